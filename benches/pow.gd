// Float `pow` over 10^6 f64 pairs (x in [0.1, 10), y in [-5, 5)), alone and in a fused
// region, compiled by the JIT (the inline pow of codegen/polypow.rs) or interpreted (libm's
// pow per element, plus the interpreter's own overhead):
//
//     gradc run --quiet benches/pow.gd
//     gradc run --quiet --backend interp benches/pow.gd
//
// The inline pow against the JIT's libm shim (`Options::exact_math`, no CLI switch) is
// compiler/tests/polymath.rs `pow_speed_inline_against_the_shim` (--nocapture).
data xs = uniform([1000000], 0.1, 10, seed = 1);
data ys = uniform([1000000], -5, 5, seed = 2);

fn pw(x: f64[1000000], y: f64[1000000]) -> f64 { sum(x ^ y) }
fn fused(x: f64[1000000], y: f64[1000000]) -> f64 { sum(tanh(y) + exp(-x) * x ^ y) }

bench pw(xs, ys) { iters = 30 }
bench fused(xs, ys) { iters = 30 }
