use gradc_runtime::plot::render_png;
use gradc_runtime::rng::Rng;
#[test]
fn fuzz() {
    let mut rng = Rng::seed_from_u64(std::env::var("SEED").map(|s| s.parse().unwrap()).unwrap_or(1));
    for case in 0..300 {
        let mut series = || -> Vec<(u64, f64)> {
            let n = rng.below(6) as usize * (1 + rng.below(30) as usize);
            let scale = rng.uniform_range(-330.0, 309.0);
            let spread = rng.uniform_range(0.0, 400.0);
            let step_scale = 10f64.powf(rng.uniform_range(0.0, 19.5));
            (0..n).map(|_| {
                let s = (rng.uniform_f64() * step_scale) as u64;
                let mut l = 10f64.powf(scale + rng.uniform_range(-spread, spread).min(0.0));
                if rng.below(4) == 0 { l = -l; }
                if rng.below(10) == 0 { l = f64::NAN; }
                if rng.below(20) == 0 { l = 0.0; }
                (s, l)
            }).collect()
        };
        let t = series();
        let v = series();
        eprintln!("case {case}: {} {}", t.len(), v.len());
        render_png(&t, &v, "fuzz").unwrap();
    }
}
