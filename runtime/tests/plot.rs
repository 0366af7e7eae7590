//! The loss-curve PNG: it is written, decodes, has the documented size, and odd input (no
//! points, NaN, infinities, one point, a flat curve) never panics.
//!
//! Set `GRADC_PLOT_DIR=some/dir` to keep the pictures there and look at them.

use gradc_runtime::plot::{loss_plot, HEIGHT, WIDTH};
use std::path::{Path, PathBuf};

/// Where a test's picture goes: `GRADC_PLOT_DIR` if set, else a temporary directory (kept
/// alive by the returned guard).
fn out(name: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("GRADC_PLOT_DIR") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            (None, Path::new(&dir).join(name))
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(name);
            (Some(dir), path)
        }
    }
}

/// Decodes the PNG at `path`; returns its RGB pixels after checking the size and format.
fn decode(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    buf
}

/// Pixels of exactly this colour.
fn count(rgb: &[u8], color: [u8; 3]) -> usize {
    rgb.chunks_exact(3).filter(|p| *p == color).count()
}

const TRAIN: [u8; 3] = [31, 119, 180];
const VALIDATION: [u8; 3] = [255, 127, 14];

/// A training curve falling over several decades, with noise.
fn falling(n: u64, scale: f64) -> Vec<(u64, f64)> {
    (0..=n)
        .map(|s| {
            let t = s as f64 / n as f64;
            let wiggle = 1.0 + 0.15 * ((s as f64) * 0.7).sin();
            (s, scale * (-9.0 * t).exp() * wiggle + 1e-5)
        })
        .collect()
}

#[test]
fn a_falling_loss_with_validation() {
    let (_guard, path) = out("falling.png");
    let train = falling(500, 2.0);
    let val: Vec<(u64, f64)> =
        train.iter().filter(|(s, _)| s % 50 == 0).map(|&(s, l)| (s, l * 1.4 + 2e-4)).collect();
    loss_plot(&path, &train, &val, "train loss").unwrap();
    let rgb = decode(&path);
    assert!(count(&rgb, TRAIN) > 500, "the training curve is drawn");
    assert!(count(&rgb, VALIDATION) > 200, "the validation curve and its legend are drawn");
    // Mostly white background, and some dark pixels: the axes and the text.
    assert!(count(&rgb, [255, 255, 255]) > rgb.len() / 3 / 2);
    assert!(rgb.chunks_exact(3).filter(|p| p.iter().all(|&c| c < 80)).count() > 1000);
}

#[test]
fn a_linear_loss_without_validation() {
    let (_guard, path) = out("linear.png");
    let train: Vec<(u64, f64)> = (1..=200).map(|s| (s * 10, 0.5 + 0.3 / s as f64)).collect();
    loss_plot(&path, &train, &[], "train mse").unwrap();
    let rgb = decode(&path);
    assert!(count(&rgb, TRAIN) > 500);
    assert_eq!(count(&rgb, VALIDATION), 0, "no validation, no legend");
}

#[test]
fn losses_of_both_signs_and_non_finite_values() {
    let (_guard, path) = out("nan.png");
    let mut train: Vec<(u64, f64)> = (0..100).map(|s| (s, (s as f64 * 0.1).sin())).collect();
    train[10].1 = f64::NAN;
    train[20].1 = f64::INFINITY;
    train[30].1 = f64::NEG_INFINITY;
    let val = [(5, f64::NAN), (50, 0.25), (95, -0.5)];
    loss_plot(&path, &train, &val, "").unwrap();
    let rgb = decode(&path);
    assert!(count(&rgb, TRAIN) > 300);
}

#[test]
fn nothing_to_draw_still_makes_a_picture() {
    for (i, (train, val)) in [
        (vec![], vec![]),
        (vec![(0, f64::NAN), (1, f64::INFINITY)], vec![(3, f64::NAN)]),
        (vec![(7, 0.5)], vec![]),
        (vec![(7, 0.5)], vec![(7, 0.5)]),
        (vec![(0, 0.0), (1, 0.0)], vec![]),
        (vec![(0, 3.0), (100, 3.0)], vec![(50, 3.0)]),
        (vec![(u64::MAX, 1e300), (0, 1e-300)], vec![]),
        (vec![(0, f64::MAX), (1, -f64::MAX)], vec![]),
        (vec![(5, 1.0), (5, 2.0), (2, 3.0)], vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let (_guard, path) = out(&format!("edge{i}.png"));
        loss_plot(&path, &train, &val, "edge case").unwrap_or_else(|e| panic!("case {i}: {e}"));
        decode(&path);
    }
}

#[test]
fn the_picture_replaces_the_old_file_whole_and_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.png");
    std::fs::write(&path, b"old").unwrap();
    loss_plot(&path, &falling(100, 1.0), &[], "t").unwrap();
    decode(&path);
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["loss.png"]);

    let missing = dir.path().join("no/such/dir/loss.png");
    let e = loss_plot(&missing, &falling(10, 1.0), &[], "t").unwrap_err();
    assert_eq!(e.path, missing);
    assert!(e.to_string().starts_with("cannot write the plot `"), "{e}");
}

#[test]
fn plots_from_many_threads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            let path = dir.path().join(format!("t{i}.png"));
            s.spawn(move || {
                loss_plot(&path, &falling(50 + i, 1.0), &[], "threads").unwrap();
                decode(&path);
            });
        }
    });
}

/// Random series over every magnitude f64 has (underflow to 0 included), both signs, NaNs
/// and steps up to u64::MAX: plotters' axis code once looped for ever on a range of more
/// than 308 decades, so this checks every picture comes back.
#[test]
fn random_extreme_series_never_hang_or_panic() {
    use gradc_runtime::plot::render_png;
    use gradc_runtime::rng::Rng;
    let mut rng = Rng::seed_from_u64(7);
    for case in 0..200 {
        let mut series = || -> Vec<(u64, f64)> {
            let n = rng.below(6) as usize * (1 + rng.below(30) as usize);
            let scale = rng.uniform_range(-330.0, 309.0);
            let spread = rng.uniform_range(0.0, 400.0);
            let step_scale = 10f64.powf(rng.uniform_range(0.0, 19.5));
            (0..n)
                .map(|_| {
                    let s = (rng.uniform_f64() * step_scale) as u64;
                    let mut l = 10f64.powf(scale + rng.uniform_range(-spread, 0.0));
                    if rng.below(4) == 0 {
                        l = -l;
                    }
                    if rng.below(10) == 0 {
                        l = f64::NAN;
                    }
                    if rng.below(20) == 0 {
                        l = 0.0;
                    }
                    (s, l)
                })
                .collect()
        };
        let (t, v) = (series(), series());
        render_png(&t, &v, "fuzz").unwrap_or_else(|e| panic!("case {case}: {e}"));
    }
}
