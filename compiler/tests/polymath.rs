//! The JIT's inline approximations of the transcendental functions (`codegen/polymath.rs`)
//! against libm (the interpreter's scalar functions, `gradc_compiler::ir::scalar`): for every
//! function and float type, over a million and more inputs — special values (±0, ±inf,
//! NaN, subnormals, the extremes), random bit patterns over the whole range, dense
//! uniform samples of the working range, and dense samples around the range-reduction
//! boundaries (multiples of π/2 and of ln 2 / 2, the branch points of tanh and of the
//! inline/shim switch of sin and cos at 2²⁰) — the maximum error in ulps is found, printed
//! (`--nocapture`) and must not exceed [`codegen::ulp_bound`]. Zeros, infinities and NaNs
//! must be exactly libm's (the sign of a zero included). erf is sampled densely around its
//! branch points, near 0 and in the tails, softplus near 0, where `exp(−|x|)` drops below
//! an ulp and where `exp(x)` underflows, gelu also for `x → −∞`; gelu's error is in ulps of
//! `max(|gelu x|, |x|/2)` (see `ulp_bound`), its zeros (−0 for x → −∞) exact.
//!
//! Both the vector loop and the scalar loop are checked, and must agree with each other
//! bit for bit.

use gradc_compiler::codegen::{self, Options};
use gradc_compiler::interp::{type_of, Inputs};
use gradc_compiler::ir::scalar;
use gradc_compiler::ir::{Graph, Op, Source, UnaryOp};
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

const FUNCS: [UnaryOp; 10] = [
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sin,
    UnaryOp::Cos,
    UnaryOp::Tan,
    UnaryOp::Tanh,
    UnaryOp::Sigmoid,
    UnaryOp::Erf,
    UnaryOp::Softplus,
    UnaryOp::Gelu,
];

/// erf's branch points (fdlibm's, on |x|): 2⁻²⁸, 0.84375, 1.25, ≈ 1/0.35, 6.
const ERF_POINTS: [f64; 5] = [3.725290298461914e-9, 0.84375, 1.25, 2.857142686843872, 6.0];

fn specials() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        2.0,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1e-310,
        -1e-310,
        f64::MAX,
        -f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        709.782712893384,
        709.7827128933841,
        710.0,
        -708.3964185322641,
        -745.1332191019411,
        -745.1332191019412,
        -746.0,
        88.72283,
        88.72284,
        -87.33655,
        -103.27893,
        -103.97208,
        -104.0,
        1e-8,
        1.4901161193847656e-8,
        0.625,
        22.0,
        1048576.0,
        -1048576.0,
        1e22,
        1e300,
    ];
    let more: Vec<f64> = v.iter().flat_map(|&x| [next(x, 1), next(x, -1)]).collect();
    v.extend(more);
    v
}

/// `x` moved by `n` ulps (in the bit order of its sign).
fn next(x: f64, n: i64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    f64::from_bits((x.to_bits() as i64 + n) as u64)
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform_f64()
}

/// The inputs for `u`: about 1.1 million, in f64 (rounded to f32 for f32).
fn inputs(u: UnaryOp, rng: &mut Rng) -> Vec<f64> {
    let mut v = specials();
    // Random bit patterns: every exponent, subnormals, NaNs.
    for _ in 0..200_000 {
        v.push(f64::from_bits(rng.next_u64()));
    }
    // Subnormals and tiny values.
    for _ in 0..50_000 {
        let x = f64::from_bits(rng.next_u64() >> 12);
        v.push(if rng.next_u64() & 1 == 0 { x } else { -x });
    }
    for _ in 0..50_000 {
        v.push(uniform(rng, -1e-7, 1e-7));
    }
    let (lo, hi) = match u {
        UnaryOp::Exp | UnaryOp::Sigmoid => (-760.0, 720.0),
        UnaryOp::Log => (0.0, 4.0),
        UnaryOp::Tanh => (-25.0, 25.0),
        UnaryOp::Softplus => (-760.0, 760.0),
        UnaryOp::Erf => (-7.0, 7.0),
        UnaryOp::Gelu => (-12.0, 12.0),
        _ => (-20.0, 20.0),
    };
    for _ in 0..400_000 {
        v.push(uniform(rng, lo, hi));
    }
    for _ in 0..100_000 {
        v.push(uniform(rng, -5.0, 5.0));
    }
    match u {
        UnaryOp::Erf | UnaryOp::Gelu => {
            // Around the branch points (scaled by √2 for gelu's x/√2), in the tails where
            // erf → ±1 and gelu → 0 (−x/√2 up to the point where erf rounds to −1), near 0.
            let scale = if u == UnaryOp::Gelu { std::f64::consts::SQRT_2 } else { 1.0 };
            for _ in 0..40_000 {
                for p in ERF_POINTS {
                    let s = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                    v.push(next(s * p * scale, (rng.next_u64() % 4000) as i64 - 2000));
                }
            }
            for _ in 0..200_000 {
                v.push(uniform(rng, -6.5 * scale, -2.5 * scale));
                v.push(uniform(rng, 2.5 * scale, 6.5 * scale));
            }
            for _ in 0..50_000 {
                v.push(uniform(rng, -1e-3, 1e-3));
                v.push(uniform(rng, -1.0, 1.0));
            }
            if u == UnaryOp::Gelu {
                for _ in 0..50_000 {
                    v.push(uniform(rng, -40.0, -8.0));
                    v.push(-f64::from_bits(rng.next_u64() >> 1));
                }
            }
        }
        UnaryOp::Softplus => {
            // Near 0, where exp(−|x|) → 1; where exp(−|x|) drops below an ulp of x
            // (|x| ≈ 37 for f64, 17 for f32); the underflow of exp(x) (x → −745) and the
            // reduction points of exp.
            for _ in 0..100_000 {
                v.push(uniform(rng, -1e-3, 1e-3));
                v.push(uniform(rng, 10.0, 45.0));
                v.push(uniform(rng, -45.0, -10.0));
            }
            for _ in 0..50_000 {
                v.push(uniform(rng, -760.0, -700.0));
                let k = (rng.next_u64() % 2200) as f64 - 1100.0;
                let x = (k + 0.5) * std::f64::consts::LN_2;
                v.push(next(x, (rng.next_u64() % 64) as i64 - 32));
            }
        }
        UnaryOp::Exp | UnaryOp::Sigmoid | UnaryOp::Tanh => {
            // Around the rounding points of k = round(x / ln 2): (k + 1/2)·ln 2.
            for _ in 0..300_000 {
                let k = (rng.next_u64() % 2200) as f64 - 1100.0;
                let x = (k + 0.5) * std::f64::consts::LN_2;
                v.push(next(x, (rng.next_u64() % 64) as i64 - 32));
            }
            // tanh's branch points.
            for _ in 0..20_000 {
                let s = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                v.push(s * next(0.625, (rng.next_u64() % 2000) as i64 - 1000));
                v.push(s * next(1.4901161193847656e-8, (rng.next_u64() % 2000) as i64 - 1000));
            }
        }
        UnaryOp::Log => {
            // Log-uniform over the whole positive range, and close to 1 and to √2/2·2^e.
            for _ in 0..200_000 {
                v.push(f64::from_bits(rng.next_u64() >> 1));
            }
            for _ in 0..50_000 {
                v.push(next(1.0, (rng.next_u64() % 1_000_000) as i64 - 500_000));
                let e = (rng.next_u64() % 2000) as i32 - 1000;
                v.push(next(std::f64::consts::FRAC_1_SQRT_2 * 2f64.powi(e), (rng.next_u64() % 64) as i64 - 32));
            }
        }
        _ => {
            // Nearest doubles to multiples of π/2 (the hardest reductions) and π/4 (the
            // rounding points of k), up to and past 2^20.
            for _ in 0..150_000 {
                let k = (rng.next_u64() % 700_000) as f64;
                let s = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                let x = s * k * std::f64::consts::FRAC_PI_2;
                v.push(next(x, (rng.next_u64() % 8) as i64 - 4));
                v.push(next(x + s * std::f64::consts::FRAC_PI_4, (rng.next_u64() % 8) as i64 - 4));
            }
            for _ in 0..100_000 {
                v.push(uniform(rng, -1.1e6, 1.1e6));
            }
            for _ in 0..20_000 {
                v.push(next(1048576.0, (rng.next_u64() % 2000) as i64 - 1000));
                v.push(uniform(rng, -1e300, 1e300));
            }
        }
    }
    v
}

/// Distance in ulps (over the ordered float line, where ±0 are one point).
fn ulps(a: u64, b: u64, sign: u64) -> u64 {
    let ord = |x: u64| -> i128 {
        if x & sign != 0 {
            -((x & !sign) as i128)
        } else {
            x as i128
        }
    };
    (ord(a) - ord(b)).unsigned_abs() as u64
}

fn kernel_run(u: UnaryOp, t: &Tensor, simd: bool) -> Tensor {
    let mut g = Graph::new("t");
    let x = g.add(Op::Input { source: Source::Arg(0), ty: type_of(t) }, &[]).unwrap();
    let y = g.add(Op::Unary(u), &[x]).unwrap();
    g.outputs = vec![y];
    let opts = Options { threads: 1, min_parallel_len: 1 << 16, simd, verify: true, exact_math: false };
    let k = codegen::compile_with(&g, &opts).unwrap();
    let args = [t.clone()];
    k.run(&Inputs { args: &args, params: &[], data: &[] }).unwrap().remove(0)
}

/// (max ulps, the worst input, how many) over the inputs; panics on a wrong special value.
fn check(u: UnaryOp, d: DType, xs: &[f64]) -> (u64, f64, usize) {
    let n = xs.len();
    let (t, ours_v, ours_s): (Tensor, Vec<u64>, Vec<u64>);
    let refs: Vec<u64>;
    let (sign, nan_ok): (u64, Box<dyn Fn(u64) -> bool>);
    match d {
        DType::F64 => {
            t = Tensor::new(vec![n], Buffer::F64(xs.to_vec())).unwrap();
            refs = xs.iter().map(|&x| scalar::unary_f64(u, x).to_bits()).collect();
            sign = 1 << 63;
            nan_ok = Box::new(|b| f64::from_bits(b).is_nan());
        }
        _ => {
            let v: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
            refs = v.iter().map(|&x| scalar::unary_f32(u, x).to_bits() as u64).collect();
            t = Tensor::new(vec![n], Buffer::F32(v)).unwrap();
            sign = 1 << 31;
            nan_ok = Box::new(|b| f32::from_bits(b as u32).is_nan());
        }
    }
    let bits = |t: &Tensor| -> Vec<u64> {
        match t.data() {
            Buffer::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
            Buffer::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
            _ => unreachable!(),
        }
    };
    ours_v = bits(&kernel_run(u, &t, true));
    ours_s = bits(&kernel_run(u, &t, false));
    let input = |i: usize| match t.data() {
        Buffer::F64(v) => v[i],
        Buffer::F32(v) => v[i] as f64,
        _ => unreachable!(),
    };
    let (mut worst, mut at) = (0u64, 0.0);
    for i in 0..n {
        let (a, r) = (ours_v[i], refs[i]);
        assert!(
            a == ours_s[i] || (nan_ok(a) && nan_ok(ours_s[i])),
            "{} {d}: the vector and scalar loops differ at {:e}",
            u.name(),
            input(i)
        );
        if nan_ok(r) || nan_ok(a) {
            assert!(nan_ok(r) && nan_ok(a), "{} {d} at {:e}: NaN mismatch (ours {a:#x}, libm {r:#x})", u.name(), input(i));
            continue;
        }
        let mag = r & !sign;
        let inf = if d == DType::F64 { 0x7ff0_0000_0000_0000 } else { 0x7f80_0000 };
        if u == UnaryOp::Gelu && mag != inf {
            let e = gelu_ulps(d, input(i), a, r);
            if e > worst {
                worst = e;
                at = input(i);
            }
            continue;
        }
        if mag == 0 || mag == inf {
            assert_eq!(a, r, "{} {d} at {:e}: special value (ours {a:#x}, libm {r:#x})", u.name(), input(i));
            continue;
        }
        let e = ulps(a, r, sign);
        if e > worst {
            worst = e;
            at = input(i);
        }
    }
    (worst, at, n)
}

/// gelu's error: in ulps of `max(|gelu(x)|, |x|/2)` (the reference `0.5·x·(1 + erf(x/√2))`
/// is itself only that accurate where `1 + erf` cancels, x < 0); both zero: the same sign.
fn gelu_ulps(d: DType, x: f64, a: u64, r: u64) -> u64 {
    let (fa, fr, ulp) = if d == DType::F64 {
        let (fa, fr) = (f64::from_bits(a), f64::from_bits(r));
        let m = fr.abs().max(0.5 * x.abs());
        let ulp = if m == 0.0 { f64::from_bits(1) } else { m - f64::from_bits(m.to_bits() - 1) };
        (fa, fr, ulp)
    } else {
        let (fa, fr) = (f32::from_bits(a as u32) as f64, f32::from_bits(r as u32) as f64);
        let m = (fr.abs().max(0.5 * x.abs())) as f32;
        let ulp = if m == 0.0 { f32::from_bits(1) } else { m - f32::from_bits(m.to_bits() - 1) };
        (fa, fr, ulp as f64)
    };
    if fa == 0.0 && fr == 0.0 {
        assert_eq!(a, r, "gelu {d} at {x:e}: the sign of zero");
        return 0;
    }
    ((fa - fr).abs() / ulp).ceil() as u64
}

#[test]
fn approximations_are_within_their_documented_ulp_bounds() {
    let mut failures = Vec::new();
    for u in FUNCS {
        let mut rng = Rng::seed_from_u64(u as u64 + 17);
        let xs = inputs(u, &mut rng);
        for d in [DType::F64, DType::F32] {
            let bound = codegen::ulp_bound(u, d).expect("an inline form");
            let (worst, at, n) = check(u, d, &xs);
            println!("{:8} {d}: max {worst} ulp (bound {bound}) at {at:e}, over {n} inputs", u.name());
            if worst > bound {
                failures.push(format!("{} {d}: {worst} ulp at {at:e} > {bound}", u.name()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
