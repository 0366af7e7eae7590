// The Adam update of P2's 85,002 f32 params as a compiled gd function, to compare with the
// runtime's Rust loops (runtime/tests/optim.rs, `adam_update_cost_on_p2_params`):
//
//     gradc run --quiet benches/adam_update.gd
//
// `inputs()` is the conversion the measured call also makes; subtract it.
data g0 = normal([85002], seed = 1);

fn adam(w: f32[85002], g: f32[85002], m: f32[85002], v: f32[85002]) -> (f32[85002], f32[85002], f32[85002]) {
    let m2 = 0.9 * m + 0.1 * g;
    let v2 = 0.999 * v + 0.001 * g * g;
    (w - 0.001 * (m2 / 0.1) / (sqrt(v2 / 0.001) + 1e-8), m2, v2)
}

fn inputs() -> f32[85002] { f32(g0) }

bench inputs() { iters = 300 }
bench adam(f32(g0), f32(g0), f32(g0), f32(g0)) { iters = 300 }
