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
use gradc_compiler::ir::{BinaryOp, Graph, Op, Source, UnaryOp};
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

// ---------------------------------------------------------------------------------------
// pow
// ---------------------------------------------------------------------------------------

/// Values for the special-case grid of `pow`: zeros, ±1 and their neighbours, integers odd
/// and even (also past 2⁵³, where every float is an even integer), non-integers, the
/// extremes, subnormals, infinities and NaNs, in both types' ranges.
fn pow_specials() -> Vec<f64> {
    let two53 = 9007199254740992.0;
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        next(1.0, 1),
        next(1.0, -1),
        next(-1.0, 1),
        next(-1.0, -1),
        0.5,
        -0.5,
        2.0,
        -2.0,
        3.0,
        -3.0,
        2.5,
        -2.5,
        0.1,
        -0.1,
        1023.0,
        1024.0,
        -1074.0,
        -1075.0,
        -1076.0,
        127.0,
        128.0,
        -149.0,
        -150.0,
        two53 - 1.0,
        -(two53 - 1.0),
        two53,
        two53 + 2.0,
        -(two53 + 2.0),
        16777215.0,
        -16777215.0,
        16777218.0,
        1e300,
        -1e300,
        f64::MAX,
        -f64::MAX,
        f32::MAX as f64,
        f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1e-310,
        1e-40,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
    ];
    v.push(std::f64::consts::E);
    v
}

/// The pairs for `pow` on `d`: about 1.3 million. `z` is the binary exponent of the result
/// (`y·log₂|x|`); inputs are drawn by `x` and `z`, `y = z/log₂|x|`, so the results cover the
/// whole range, the overflow and underflow thresholds and the subnormals.
fn pow_inputs(d: DType, rng: &mut Rng) -> Vec<(f64, f64)> {
    let f64s = d == DType::F64;
    // Overflow, the smallest normal, the underflow to 0 (binary exponents of the result).
    let (over, normal, under) = if f64s { (1024.0, -1022.0, -1075.0) } else { (128.0, -126.0, -150.0) };
    let zmax = over + 60.0;
    let mant = if f64s { 52 } else { 23 };
    // A random positive finite x of d over every exponent, subnormals included.
    let any_x = |rng: &mut Rng| loop {
        let x = if f64s { f64::from_bits(rng.next_u64() >> 1) } else { f32::from_bits((rng.next_u64() >> 33) as u32) as f64 };
        if x.is_finite() && x != 0.0 {
            return x;
        }
    };
    let sp = pow_specials();
    let mut v: Vec<(f64, f64)> = sp.iter().flat_map(|&x| sp.iter().map(move |&y| (x, y))).collect();
    for _ in 0..100_000 {
        // x near 1, where y·log x cancels: |x − 1| from one ulp up; y large.
        let t = 2f64.powi(-((rng.next_u64() % mant) as i32) - 1);
        let x = 1.0 + (2.0 * rng.uniform_f64() - 1.0) * t;
        let z = uniform(rng, -zmax, zmax);
        v.push((x, z / x.log2()));
        // Any x, any result.
        let x = any_x(rng);
        let z = uniform(rng, -zmax, zmax);
        v.push((x, z / x.log2()));
        // Negative x with integer y (odd and even), results over the whole range.
        let x = any_x(rng);
        let y = (uniform(rng, -zmax, zmax) / x.log2()).round();
        v.push((-x, y));
        let x = -uniform(rng, 0.0, 8.0);
        v.push((x, (uniform(rng, -60.0, 60.0)).round()));
        // Near the thresholds: overflow, the smallest normal, the underflow to 0, and the
        // inline form's fast-path bound |y·ln x| = 600 (both sides).
        let x = uniform(rng, 1.0, 9.0);
        let fast = 600.0 / std::f64::consts::LN_2;
        for z in [over, normal, under, fast, -fast] {
            let z = z + uniform(rng, -1e-6, 1e-6);
            v.push((x, z / x.log2()));
            v.push((1.0 / x, -z / x.log2()));
        }
        // Subnormal results, and the exact powers of two around them.
        let z = uniform(rng, under - 1.0, normal + 1.0);
        v.push((x, z / x.log2()));
        let k = (rng.next_u64() % 80) as f64;
        v.push((2.0, normal - k));
        v.push((0.5, k - normal));
        // Subnormal x, results of every size.
        let x = if f64s { f64::from_bits(rng.next_u64() >> 12) } else { f32::from_bits((rng.next_u64() >> 41) as u32) as f64 };
        if x != 0.0 {
            v.push((x, uniform(rng, -zmax, zmax) / x.log2()));
        }
        // Huge and tiny x, y small.
        let e = if f64s { 1000 } else { 120 };
        let x = 2f64.powi((rng.next_u64() % (2 * e)) as i32 - e as i32) * uniform(rng, 1.0, 2.0);
        v.push((x, uniform(rng, -2.0, 2.0)));
        // The working range, and random bit patterns (NaNs, infinities, everything).
        v.push((uniform(rng, 0.0, 10.0), uniform(rng, -40.0, 40.0)));
        if f64s {
            v.push((f64::from_bits(rng.next_u64()), f64::from_bits(rng.next_u64())));
        } else {
            v.push((f32::from_bits(rng.next_u64() as u32) as f64, f32::from_bits(rng.next_u64() as u32) as f64));
        }
    }
    // Huge even and odd integers on x near −1.
    for _ in 0..20_000 {
        let x = -(1.0 + (2.0 * rng.uniform_f64() - 1.0) * 2f64.powi(-((rng.next_u64() % 20) as i32) - 30));
        let y = (2f64.powi(53) + 2.0 * (rng.next_u64() % 1000) as f64) * if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
        v.push((x, y));
        let y = ((rng.next_u64() % (1 << 40)) as f64 * 2.0 + 1.0) * if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
        v.push((x, y));
    }
    v
}

fn pow_run(x: &Tensor, y: &Tensor, simd: bool, exact_math: bool) -> Tensor {
    let mut g = Graph::new("t");
    let a = g.add(Op::Input { source: Source::Arg(0), ty: type_of(x) }, &[]).unwrap();
    let b = g.add(Op::Input { source: Source::Arg(1), ty: type_of(y) }, &[]).unwrap();
    let p = g.add(Op::Binary(BinaryOp::Pow), &[a, b]).unwrap();
    g.outputs = vec![p];
    let opts = Options { threads: 1, min_parallel_len: 1 << 16, simd, verify: true, exact_math };
    let k = codegen::compile_with(&g, &opts).unwrap();
    let args = [x.clone(), y.clone()];
    k.run(&Inputs { args: &args, params: &[], data: &[] }).unwrap().remove(0)
}

/// Each element's bits (an f32's in the low half).
fn bits_of(t: &Tensor) -> Vec<u64> {
    match t.data() {
        Buffer::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        Buffer::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
        _ => unreachable!(),
    }
}

/// The pairs as two tensors of `d`.
fn pow_tensors(d: DType, xy: &[(f64, f64)]) -> (Tensor, Tensor) {
    let n = xy.len();
    let t = |v: Vec<f64>| match d {
        DType::F64 => Tensor::new(vec![n], Buffer::F64(v)).unwrap(),
        _ => Tensor::new(vec![n], Buffer::F32(v.iter().map(|&x| x as f32).collect())).unwrap(),
    };
    (t(xy.iter().map(|p| p.0).collect()), t(xy.iter().map(|p| p.1).collect()))
}

#[test]
fn pow_is_within_its_documented_ulp_bound() {
    let mut failures = Vec::new();
    for d in [DType::F64, DType::F32] {
        let mut rng = Rng::seed_from_u64(5 + d as u64);
        let xy = pow_inputs(d, &mut rng);
        let (x, y) = pow_tensors(d, &xy);
        let (xs, ys) = (x.to_f64_vec(), y.to_f64_vec());
        let (vec_bits, scalar_bits) = (bits_of(&pow_run(&x, &y, true, false)), bits_of(&pow_run(&x, &y, false, false)));
        // The shim (exact_math) is the interpreter's powf bit for bit.
        let exact = bits_of(&pow_run(&x, &y, true, true));
        let (sign, inf, nan): (u64, u64, fn(u64) -> bool) = if d == DType::F64 {
            (1 << 63, 0x7ff0_0000_0000_0000, |b| f64::from_bits(b).is_nan())
        } else {
            (1 << 31, 0x7f80_0000, |b| f32::from_bits(b as u32).is_nan())
        };
        let bound = codegen::binary_ulp_bound(BinaryOp::Pow, d).expect("an inline pow");
        let (mut worst, mut at, mut off, mut libm_off) = (0u64, (0.0, 0.0), 0usize, 0usize);
        for i in 0..xy.len() {
            let (a, s) = (vec_bits[i], scalar_bits[i]);
            let r = if d == DType::F64 {
                scalar::binary_f64(BinaryOp::Pow, xs[i], ys[i]).to_bits()
            } else {
                scalar::binary_f32(BinaryOp::Pow, xs[i] as f32, ys[i] as f32).to_bits() as u64
            };
            let (xi, yi) = (xs[i], ys[i]);
            assert!(exact[i] == r || (nan(exact[i]) && nan(r)), "pow {d} exact_math at ({xi:e}, {yi:e})");
            assert!(a == s || (nan(a) && nan(s)), "pow {d}: the vector and scalar loops differ at ({xi:e}, {yi:e})");
            if nan(a) || nan(r) {
                assert!(nan(a) && nan(r), "pow {d} at ({xi:e}, {yi:e}): NaN mismatch (ours {a:#x}, libm {r:#x})");
                continue;
            }
            let (ma, mr) = (a & !sign, r & !sign);
            if ma == 0 || mr == 0 || ma == inf || mr == inf {
                if d == DType::F32 && a != r && ulps(a, r, sign) == 1 {
                    // libm's powf is not correctly rounded: it overflows (or underflows) a
                    // value that rounds to the largest (smallest) finite f32, e.g.
                    // 1.5737761^195.64975 = (1 − 3.6·10⁻¹⁰)·(f32::MAX + ½ ulp). Ours must then be
                    // the correctly rounded one (the f64 pow, within 2⁻⁵² of the value,
                    // rounded to f32).
                    let cr = (xi.powf(yi) as f32).to_bits() as u64;
                    assert_eq!(a, cr, "pow {d} at ({xi:e}, {yi:e}): special value (ours {a:#x}, libm {r:#x})");
                    libm_off += 1;
                    continue;
                }
                assert_eq!(a, r, "pow {d} at ({xi:e}, {yi:e}): special value (ours {a:#x}, libm {r:#x})");
                continue;
            }
            let e = ulps(a, r, sign);
            off += (e > 0) as usize;
            if e > worst {
                worst = e;
                at = (xi, yi);
            }
        }
        println!(
            "pow {d}: max {worst} ulp (bound {bound}) at {at:?}, {off} of {} results off libm's; \
             {libm_off} where libm overflows or underflows a value that rounds to a finite one",
            xy.len()
        );
        if worst > bound {
            failures.push(format!("pow {d}: {worst} ulp at {at:?} > {bound}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// C99 / IEEE 754 `pow`'s special cases (Annex F.9.4.4), written out, against the inline
/// `pow` (vector and scalar loops) and the interpreter, bit for bit (NaN: any NaN).
#[test]
fn pow_special_cases_are_c99s() {
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    let big_even = 9007199254740994.0; // 2^53 + 2
    #[rustfmt::skip]
    let table: &[(f64, f64, f64)] = &[
        // x^±0 = 1 for any x, NaN too; 1^y = 1 for any y, NaN too.
        (nan, 0.0, 1.0), (nan, -0.0, 1.0), (-inf, 0.0, 1.0), (-3.0, -0.0, 1.0), (0.0, 0.0, 1.0),
        (1.0, nan, 1.0), (1.0, inf, 1.0), (1.0, -inf, 1.0), (1.0, 1e308, 1.0),
        // NaN otherwise.
        (nan, 1.0, nan), (2.0, nan, nan), (-1.0, nan, nan), (nan, nan, nan),
        // ±0 with odd integer y < 0: ±inf; other y < 0: +inf; odd y > 0: ±0; other y > 0: +0.
        (0.0, -3.0, inf), (-0.0, -3.0, -inf), (-0.0, -2.0, inf), (-0.0, -0.5, inf), (-0.0, -inf, inf),
        (-0.0, -big_even, inf), (0.0, 3.0, 0.0), (-0.0, 3.0, -0.0), (-0.0, 2.0, 0.0), (-0.0, 0.5, 0.0),
        (-0.0, inf, 0.0), (-0.0, big_even, 0.0), (-0.0, 5e-324, 0.0),
        // −1 with ±inf: 1.
        (-1.0, inf, 1.0), (-1.0, -inf, 1.0), (-1.0, big_even, 1.0), (-1.0, 3.0, -1.0),
        // |x| < 1 and > 1 with ±inf.
        (0.5, -inf, inf), (-0.5, -inf, inf), (0.5, inf, 0.0), (-0.5, inf, 0.0),
        (2.0, -inf, 0.0), (-2.0, -inf, 0.0), (2.0, inf, inf), (-2.0, inf, inf),
        (next(1.0, 1), inf, inf), (next(1.0, -1), inf, 0.0),
        // ±inf with y: −inf^(odd y < 0) = −0, other y < 0: +0; odd y > 0: −inf, other: +inf.
        (-inf, -3.0, -0.0), (-inf, -2.0, 0.0), (-inf, -0.5, 0.0), (-inf, 3.0, -inf), (-inf, 2.0, inf),
        (-inf, 0.5, inf), (inf, -1.0, 0.0), (inf, 5e-324, inf),
        // Finite x < 0 with finite non-integer y: NaN.
        (-2.0, 0.5, nan), (-0.5, -1.5, nan), (-5e-324, 0.5, nan), (-f64::MAX, 2.5, nan),
        // Negative x with integer y: the sign by parity, huge y even.
        (-2.0, 3.0, -8.0), (-2.0, -3.0, -0.125), (-2.0, 2.0, 4.0), (-0.5, 1075.0, -0.0), (-0.5, 1074.0, 5e-324),
        (-2.0, 1024.0, inf), (-2.0, 1025.0, -inf),
        // Overflow, underflow, exact powers of two through the subnormals.
        (10.0, 400.0, inf), (10.0, -400.0, 0.0), (2.0, -1074.0, 5e-324), (2.0, -1075.0, 0.0),
        (2.0, -1022.0, f64::MIN_POSITIVE), (0.5, 1023.0, 2f64.powi(-1023)), (2.0, 1023.0, 2f64.powi(1023)),
    ];
    let xy: Vec<(f64, f64)> = table.iter().map(|&(x, y, _)| (x, y)).collect();
    let (x, y) = pow_tensors(DType::F64, &xy);
    for simd in [true, false] {
        let got = bits_of(&pow_run(&x, &y, simd, false));
        for (&(x, y, want), &g) in table.iter().zip(&got) {
            let libm = x.powf(y);
            let g = f64::from_bits(g);
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(same(libm, want), "the table is wrong at pow({x:e}, {y:e}): libm {libm:e}, table {want:e}");
            assert!(same(g, want), "pow({x:e}, {y:e}) = {g:e}, not {want:e} (simd {simd})");
        }
    }
}

/// The inline `pow` against the shim (`exact_math`, libm's `pow` per element) on 10⁶ `f64`
/// pairs (`x ∈ [0.1, 10)`, `y ∈ [−5, 5)`), alone and in a fused region, one thread and two:
/// the medians of 31 runs are printed (`--nocapture`); nothing is asserted about them.
#[test]
fn pow_speed_inline_against_the_shim() {
    let mut rng = Rng::seed_from_u64(77);
    let n = 1_000_000;
    let xy: Vec<(f64, f64)> = (0..n).map(|_| (uniform(&mut rng, 0.1, 10.0), uniform(&mut rng, -5.0, 5.0))).collect();
    let (x, y) = pow_tensors(DType::F64, &xy);
    // pow alone, and in a fused region: tanh(y) + exp(−x)·x^y.
    let mut g = Graph::new("t");
    let a = g.add(Op::Input { source: Source::Arg(0), ty: type_of(&x) }, &[]).unwrap();
    let b = g.add(Op::Input { source: Source::Arg(1), ty: type_of(&y) }, &[]).unwrap();
    let p = g.add(Op::Binary(BinaryOp::Pow), &[a, b]).unwrap();
    g.outputs = vec![p];
    let mut fused = g.clone();
    let t = fused.add(Op::Unary(UnaryOp::Tanh), &[b]).unwrap();
    let na = fused.add(Op::Unary(UnaryOp::Neg), &[a]).unwrap();
    let e = fused.add(Op::Unary(UnaryOp::Exp), &[na]).unwrap();
    let ep = fused.add(Op::Binary(BinaryOp::Mul), &[e, p]).unwrap();
    let r = fused.add(Op::Binary(BinaryOp::Add), &[t, ep]).unwrap();
    fused.outputs = vec![r];
    let args = [x, y];
    let inputs = Inputs { args: &args, params: &[], data: &[] };
    for (what_g, g) in [("x^y", &g), ("tanh(y) + exp(-x)*x^y", &fused)] {
        for (threads, exact_math) in [(1, false), (1, true), (2, false), (2, true)] {
            let opts = Options { threads, min_parallel_len: 1 << 18, simd: true, verify: false, exact_math };
            let k = codegen::compile_with(g, &opts).unwrap();
            let mut times: Vec<f64> = (0..31)
                .map(|_| {
                    let t0 = std::time::Instant::now();
                    let out = k.run(&inputs).unwrap();
                    let t = t0.elapsed().as_secs_f64() * 1e3;
                    drop(out);
                    t
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let what = if exact_math { "shims (libm)" } else { "inline" };
            println!("{what_g} over 10^6 f64, {threads} thread(s), {what}: median {:.2} ms", times[15]);
        }
    }
}
