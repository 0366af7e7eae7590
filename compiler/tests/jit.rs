//! The Cranelift JIT against the reference interpreter: every op of the op table for every
//! element type it takes, on edge values (±0, ±inf, NaN, subnormals, huge) and random ones,
//! over scalars, empty tensors, vector-width remainders and broadcasts; fused chains;
//! reductions over every axis set; matrix products (within a tolerance: the GEMM sums in
//! its own order); run-time errors; graphs lowered from gd programs and from the derivative
//! passes, hand-written, examples and generated. Everything elementwise and every reduction
//! must agree bit for bit (NaN payloads aside), under several compile options: vector loops
//! on and off, and regions split across threads even when small. The Cranelift verifier is
//! on throughout.
//!
//! Also: 1,000 compile-and-drop cycles (resident memory printed after 100, 500, 1,000) and
//! the P1 workload timed against the interpreter (printed; run with `--nocapture`).
//!
//! Debugging: `JIT_TRACE=1` prints every graph before it is compared, `JIT_TIME=1` the
//! interpreter's time and each compile and run (with `--nocapture`).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use common::gen::{self, GenOptions};
use common::bits;
use gradc_compiler::check::check_source;
use gradc_compiler::check::hir::{FnId, Transform};
use gradc_compiler::codegen::{self, Kernel, Options};
use gradc_compiler::interp::{run, type_of, EvalError, Inputs};
use gradc_compiler::ir::op::Const;
use gradc_compiler::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type, UnaryOp};
use gradc_compiler::lower::{lower_fn, transform_fn};
use gradc_compiler::passes::simplify::simplify;
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// The option sets every graph is compiled under.
fn variants() -> Vec<Options> {
    let base = Options { threads: 1, min_parallel_len: 1 << 16, simd: true, verify: true, exact_math: true };
    vec![
        base.clone(),
        Options { simd: false, ..base.clone() },
        // Every region with an outer level of 2 or more split across 3 threads.
        Options { threads: 3, min_parallel_len: 2, ..base },
    ]
}

type Outcome = Result<Vec<Tensor>, (NodeId, EvalError)>;

fn compile(g: &Graph, opts: &Options) -> Kernel {
    codegen::compile_with(g, opts).unwrap_or_else(|e| panic!("{e}\n{}", gradc_compiler::ir::print::print(g)))
}

/// How two results may differ.
#[derive(Clone, Copy, PartialEq)]
enum Exact {
    Bits,
    /// Relative tolerance (for graphs with float matrix products).
    Within(f64),
}

fn compare(what: &str, g: &Graph, ours: &Outcome, theirs: &Outcome, exact: Exact) {
    match (ours, theirs) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.len(), b.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                match exact {
                    Exact::Bits => {
                        if bits(x) != bits(y) {
                            panic!("{what}: output {i} differs\njit:    {x:?}\ninterp: {y:?}\n{}", gradc_compiler::ir::print::print(g));
                        }
                    }
                    Exact::Within(tol) => {
                        assert_eq!((x.dtype(), x.shape()), (y.dtype(), y.shape()), "{what}: output {i}");
                        let (xs, ys) = (x.to_f64_vec(), y.to_f64_vec());
                        let scale = ys.iter().fold(1.0f64, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
                        for (p, q) in xs.iter().zip(&ys) {
                            let same = p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()) || (p - q).abs() <= tol * scale;
                            assert!(same, "{what}: output {i}: {p} vs {q}\njit:    {x:?}\ninterp: {y:?}");
                        }
                    }
                }
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "{what}: errors differ"),
        _ => panic!(
            "{what}: one failed\njit:    {:?}\ninterp: {:?}\n{}",
            ours.as_ref().map(|_| "ok").map_err(|e| e.clone()),
            theirs.as_ref().map(|_| "ok").map_err(|e| e.clone()),
            gradc_compiler::ir::print::print(g)
        ),
    }
}

/// `g` on `inputs` through the JIT (under every option set) and the interpreter: bit for
/// bit with exact math, within a tolerance with the inline approximations.
fn agree_inputs(what: &str, g: &Graph, inputs: &Inputs, exact: Exact) {
    agree_inputs_with(what, g, inputs, exact, true)
}

/// `agree_inputs`, the approximations (`fast`) compared too or not.
fn agree_inputs_with(what: &str, g: &Graph, inputs: &Inputs, exact: Exact, fast: bool) {
    if std::env::var_os("JIT_TRACE").is_some() {
        eprintln!("== {what}\n{}", gradc_compiler::ir::print::print(g));
    }
    let t0 = Instant::now();
    let theirs = run(g, inputs);
    let trace = std::env::var_os("JIT_TIME").is_some();
    if trace {
        eprintln!("{what}: {} nodes, interp {:.1} ms", g.live_count(), t0.elapsed().as_secs_f64() * 1e3);
    }
    for opts in variants() {
        let t0 = Instant::now();
        let k = compile(g, &opts);
        let t1 = Instant::now();
        let ours = k.run(inputs);
        if trace {
            eprintln!("  compile {:.1} ms, run {:.1} ms", (t1 - t0).as_secs_f64() * 1e3, t1.elapsed().as_secs_f64() * 1e3);
        }
        compare(&format!("{what} ({opts:?})"), g, &ours, &theirs, exact);
        // A kernel runs again with the same result (no state left behind).
        if ours.is_ok() {
            compare(&format!("{what}, second run"), g, &k.run(inputs), &theirs, exact);
        }
    }
    // The inline approximations (the default): within a tolerance where they are used,
    // and the same bits under every option set (vector loops, threads).
    if !fast || !approximated(g) {
        return;
    }
    let f32s = g.ids().any(|id| g.ty(id).dtype == DType::F32);
    let tol = if f32s { 1e-4 } else { 1e-9 };
    let tol = match exact {
        Exact::Within(t) => Exact::Within(t.max(tol)),
        Exact::Bits => Exact::Within(tol),
    };
    let mut first: Option<Outcome> = None;
    for opts in variants() {
        let opts = Options { exact_math: false, ..opts };
        let ours = compile(g, &opts).run(inputs);
        compare(&format!("{what} ({opts:?})"), g, &ours, &theirs, tol);
        match &first {
            None => first = Some(ours),
            Some(f) if exact == Exact::Bits => compare(&format!("{what} ({opts:?}) against the first option set"), g, &ours, f, Exact::Bits),
            Some(_) => {}
        }
    }
}

/// Whether `g` uses a function the JIT approximates by default.
fn approximated(g: &Graph) -> bool {
    g.ids().any(|id| match g.op(id) {
        Op::Unary(u) => g.args(id).first().is_some_and(|&a| codegen::ulp_bound(*u, g.ty(a).dtype).is_some()),
        Op::Binary(b) => g.args(id).first().is_some_and(|&a| codegen::binary_ulp_bound(*b, g.ty(a).dtype).is_some()),
        _ => false,
    })
}

fn agree(what: &str, g: &Graph, args: &[Tensor]) {
    agree_inputs(what, g, &Inputs { args, params: &[], data: &[] }, Exact::Bits);
}

fn input(g: &mut Graph, k: u32, t: &Tensor) -> NodeId {
    g.add(Op::Input { source: Source::Arg(k), ty: type_of(t) }, &[]).unwrap()
}

/// A graph of argument inputs and one op on them.
fn one_op(op: Op, args: &[Tensor]) -> Graph {
    let mut g = Graph::new("t");
    let ins: Vec<NodeId> = args.iter().enumerate().map(|(k, t)| input(&mut g, k as u32, t)).collect();
    let n = g.add(op.clone(), &ins).unwrap_or_else(|e| panic!("{e}"));
    g.outputs = vec![n];
    g
}

fn check_op(op: Op, args: &[Tensor]) {
    let g = one_op(op.clone(), args);
    let shapes: Vec<String> = args.iter().map(|t| type_of(t).to_string()).collect();
    agree(&format!("{} on {}", op.name(), shapes.join(", ")), &g, args);
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

fn specials_f64() -> Vec<f64> {
    vec![
        0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 3.0, 0.1, -7.25, 1e-8, 20.0, -20.0, 40.0, 710.0, -745.5,
        1e-310, -1e-310, 5e-324, f64::MIN_POSITIVE, f64::MAX, -f64::MAX, 1e300, -1e300, 1e17, 9.3e18, -9.3e18,
        f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN, std::f64::consts::PI, 1e22, std::f64::consts::FRAC_1_SQRT_2,
    ]
}

fn specials_f32() -> Vec<f32> {
    let mut v: Vec<f32> = specials_f64().iter().map(|&x| x as f32).collect();
    v.extend([1e-40f32, -1e-40, f32::MAX, f32::MIN_POSITIVE, 88.7, -103.9, 16777217.0]);
    v
}

fn specials_i64() -> Vec<i64> {
    vec![0, 1, -1, 2, -2, 3, 7, -7, 100, -64, i64::MAX, i64::MIN, i64::MIN + 1, 123456789, -987654321, 1 << 53, (1 << 53) + 1]
}

fn t_f64(shape: &[usize], v: Vec<f64>) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::F64(v)).unwrap()
}
fn t_f32(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::F32(v)).unwrap()
}
fn t_i64(shape: &[usize], v: Vec<i64>) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::I64(v)).unwrap()
}
fn t_bool(shape: &[usize], v: Vec<bool>) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::Bool(v)).unwrap()
}

/// A tensor of `dtype` and `shape`: the element type's special values cycled (starting at
/// `skew`), then random ones.
fn sample(dtype: DType, shape: &[usize], skew: usize, rng: &mut Rng) -> Tensor {
    let n: usize = shape.iter().product();
    match dtype {
        DType::F64 => {
            let s = specials_f64();
            t_f64(shape, (0..n).map(|i| if i < 2 * s.len() { s[(i + skew) % s.len()] } else { rng.uniform_range(-4.0, 4.0) }).collect())
        }
        DType::F32 => {
            let s = specials_f32();
            t_f32(shape, (0..n).map(|i| if i < 2 * s.len() { s[(i + skew) % s.len()] } else { rng.uniform_range(-4.0, 4.0) as f32 }).collect())
        }
        DType::I64 => {
            let s = specials_i64();
            t_i64(shape, (0..n).map(|i| if i < 2 * s.len() { s[(i + skew) % s.len()] } else { (rng.uniform_range(-50.0, 50.0)) as i64 }).collect())
        }
        DType::Bool => t_bool(shape, (0..n).map(|i| (i * 7 + skew).is_multiple_of(3) || rng.uniform_range(0.0, 1.0) < 0.3).collect()),
    }
}

/// Every pair of special values, as two tensors of one length (then some random pairs).
fn pairs(dtype: DType) -> (Tensor, Tensor) {
    let mut rng = Rng::seed_from_u64(9);
    macro_rules! cross {
        ($s:expr, $mk:ident, $rand:expr) => {{
            let s = $s;
            let (mut a, mut b) = (vec![], vec![]);
            for x in &s {
                for y in &s {
                    a.push(*x);
                    b.push(*y);
                }
            }
            for _ in 0..37 {
                a.push($rand(&mut rng));
                b.push($rand(&mut rng));
            }
            let n = a.len();
            ($mk(&[n], a), $mk(&[n], b))
        }};
    }
    match dtype {
        DType::F64 => cross!(specials_f64(), t_f64, |r: &mut Rng| r.uniform_range(-3.0, 3.0)),
        DType::F32 => cross!(specials_f32(), t_f32, |r: &mut Rng| r.uniform_range(-3.0, 3.0) as f32),
        DType::I64 => cross!(specials_i64(), t_i64, |r: &mut Rng| r.uniform_range(-9.0, 9.0) as i64),
        DType::Bool => cross!(vec![false, true], t_bool, |r: &mut Rng| r.uniform_range(0.0, 1.0) < 0.5),
    }
}

/// Random finite values (for products, whose special-value results depend on summation order).
fn random(dtype: DType, shape: &[usize], rng: &mut Rng) -> Tensor {
    let n: usize = shape.iter().product();
    match dtype {
        DType::F64 => t_f64(shape, (0..n).map(|_| rng.uniform_range(-2.0, 2.0)).collect()),
        DType::F32 => t_f32(shape, (0..n).map(|_| rng.uniform_range(-2.0, 2.0) as f32).collect()),
        DType::I64 => t_i64(shape, (0..n).map(|_| rng.uniform_range(-9.0, 9.0) as i64).collect()),
        DType::Bool => t_bool(shape, (0..n).map(|_| rng.uniform_range(0.0, 1.0) < 0.5).collect()),
    }
}

const ALL_DTYPES: [DType; 4] = [DType::F64, DType::F32, DType::I64, DType::Bool];
const SHAPES: [&[usize]; 6] = [&[], &[0], &[1], &[7], &[3, 5], &[2, 0, 3]];

fn unary_accepts(u: UnaryOp, d: DType) -> bool {
    Op::Unary(u).result_type(&[&Type::scalar(d)]).is_ok()
}

fn binary_accepts(b: BinaryOp, d: DType) -> bool {
    Op::Binary(b).result_type(&[&Type::scalar(d), &Type::scalar(d)]).is_ok()
}

// ---------------------------------------------------------------------------------------
// Single ops
// ---------------------------------------------------------------------------------------

#[test]
fn unary_ops_agree_bitwise() {
    let mut rng = Rng::seed_from_u64(1);
    for u in UnaryOp::ALL {
        for d in ALL_DTYPES.into_iter().filter(|&d| unary_accepts(u, d)) {
            for shape in SHAPES {
                check_op(Op::Unary(u), &[sample(d, shape, 0, &mut rng)]);
            }
            // Every special value, and random ones past them.
            check_op(Op::Unary(u), &[sample(d, &[150], 3, &mut rng)]);
        }
    }
}

/// The approximated functions (the default, `exact_math: false`) element by element within
/// their documented ulp bounds, specials exact, under every option set (the million-input
/// accuracy check is `tests/polymath.rs`).
#[test]
fn approximated_unary_ops_agree_within_their_ulp_bounds() {
    let mut rng = Rng::seed_from_u64(11);
    for u in UnaryOp::ALL {
        for d in [DType::F64, DType::F32] {
            let Some(bound) = codegen::ulp_bound(u, d) else { continue };
            for shape in SHAPES.iter().copied().chain([&[150usize][..], &[3, 67][..]]) {
                let x = sample(d, shape, 3, &mut rng);
                let g = one_op(Op::Unary(u), std::slice::from_ref(&x));
                let args = [x];
                let inputs = Inputs { args: &args, params: &[], data: &[] };
                let want = run(&g, &inputs).unwrap().remove(0);
                for opts in variants() {
                    let opts = Options { exact_math: false, ..opts };
                    let got = compile(&g, &opts).run(&inputs).unwrap().remove(0);
                    let (w, o) = (bits(&want).2, bits(&got).2);
                    let sign = if d == DType::F64 { 1u64 << 63 } else { 1 << 31 };
                    let ord = |b: u64| if b & sign != 0 { -((b & !sign) as i128) } else { b as i128 };
                    let xs = bits(&args[0]).2;
                    let val = |b: u64| if d == DType::F64 { f64::from_bits(b) } else { f32::from_bits(b as u32) as f64 };
                    for (i, (&a, &b)) in o.iter().zip(&w).enumerate() {
                        let inf = if d == DType::F64 { 0x7ff0_0000_0000_0000 } else { 0x7f80_0000 };
                        let special = b == u64::MAX || (b & !sign) == 0 || (b & !sign) == inf;
                        let ok = if u == UnaryOp::Gelu && b != u64::MAX && (b & !sign) != inf && val(a).is_finite() {
                            // gelu's bound is in ulps of max(|gelu x|, |x|/2) (see `ulp_bound`).
                            let m = val(b).abs().max(0.5 * val(xs[i]).abs());
                            let ulp = if d == DType::F64 { f64::EPSILON } else { f32::EPSILON as f64 } * m;
                            (val(a) - val(b)).abs() <= bound as f64 * ulp.max(f64::MIN_POSITIVE)
                        } else if special {
                            a == b
                        } else {
                            (ord(a) - ord(b)).unsigned_abs() <= bound as u128
                        };
                        assert!(ok, "{} {d} ({opts:?}) element {i} of {:?}: jit {a:#x}, interp {b:#x}", u.name(), args[0]);
                    }
                }
            }
        }
    }
}

/// The inline `pow` (the default) in a fused region — `pow(|x| + c, y)` beside other
/// members reading it, and `pow(x, y)` on special and negative values — element by element
/// within its documented ulp bound, specials exact, the same bits under every option set.
#[test]
fn inline_pow_in_fused_regions_is_within_its_ulp_bound() {
    let mut rng = Rng::seed_from_u64(12);
    for d in [DType::F64, DType::F32] {
        let bound = codegen::binary_ulp_bound(BinaryOp::Pow, d).expect("an inline pow");
        for shape in SHAPES.iter().copied().chain([&[150usize][..], &[3, 67][..], &[1001][..]]) {
            let n: usize = shape.iter().product();
            // y: small integers (x < 0 keeps a real result), non-integers, large |y|.
            let ys: Vec<f64> = (0..n)
                .map(|i| match i % 4 {
                    0 => (rng.uniform_range(-9.0, 9.0)).round(),
                    1 => rng.uniform_range(-3.0, 3.0),
                    2 => rng.uniform_range(-200.0, 200.0),
                    _ => rng.uniform_range(-30.0, 30.0),
                })
                .collect();
            let (x, y) = match d {
                DType::F64 => (sample(d, shape, 3, &mut rng), t_f64(shape, ys)),
                _ => (sample(d, shape, 3, &mut rng), t_f32(shape, ys.iter().map(|&v| v as f32).collect())),
            };
            let mut g = Graph::new("t");
            let (a, b) = (input(&mut g, 0, &x), input(&mut g, 1, &y));
            // A fused chain around pow: |x| + 0.5 as the base, pow read again by a product.
            let abs = g.add(Op::Unary(UnaryOp::Abs), &[a]).unwrap();
            let half = if d == DType::F64 { t_f64(&[], vec![0.5]) } else { t_f32(&[], vec![0.5]) };
            let c = g.add(Op::Const(Const(Arc::new(half))), &[]).unwrap();
            let cb = g.add(Op::Broadcast { shape: shape.to_vec() }, &[c]).unwrap();
            let base = g.add(Op::Binary(BinaryOp::Add), &[abs, cb]).unwrap();
            let p1 = g.add(Op::Binary(BinaryOp::Pow), &[base, b]).unwrap();
            let p2 = g.add(Op::Binary(BinaryOp::Pow), &[a, b]).unwrap();
            let twice = g.add(Op::Binary(BinaryOp::Mul), &[p1, cb]).unwrap();
            g.outputs = vec![p1, p2, twice];
            let args = [x, y];
            let inputs = Inputs { args: &args, params: &[], data: &[] };
            let want = run(&g, &inputs).unwrap();
            let mut first: Option<Vec<Tensor>> = None;
            for opts in variants() {
                let opts = Options { exact_math: false, ..opts };
                let got = compile(&g, &opts).run(&inputs).unwrap();
                let sign = if d == DType::F64 { 1u64 << 63 } else { 1 << 31 };
                let inf = if d == DType::F64 { 0x7ff0_0000_0000_0000 } else { 0x7f80_0000 };
                let ord = |b: u64| if b & sign != 0 { -((b & !sign) as i128) } else { b as i128 };
                for (k, (o, w)) in got.iter().zip(&want).enumerate() {
                    for (i, (&a, &b)) in bits(o).2.iter().zip(&bits(w).2).enumerate() {
                        let special = b == u64::MAX || (b & !sign) == 0 || (b & !sign) == inf;
                        // The product `twice` rounds once more: one ulp of slack.
                        let slack = if k == 2 { 1 } else { 0 };
                        let ok = if special { a == b } else { (ord(a) - ord(b)).unsigned_abs() <= (bound + slack) as u128 };
                        assert!(ok, "pow {d} ({opts:?}) output {k} element {i} of {:?}: jit {a:#x}, interp {b:#x}", args);
                    }
                }
                match &first {
                    None => first = Some(got),
                    Some(f) => {
                        for (a, b) in got.iter().zip(f) {
                            assert_eq!(bits(a), bits(b), "pow {d} ({opts:?}): not the bits of the first option set");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn binary_ops_agree_bitwise() {
    let mut rng = Rng::seed_from_u64(2);
    for b in BinaryOp::ALL {
        for d in ALL_DTYPES.into_iter().filter(|&d| binary_accepts(b, d)) {
            let (x, y) = pairs(d);
            // Integer division by zero is an error; the pairs include zero divisors.
            check_op(Op::Binary(b), &[x, y]);
            for shape in SHAPES {
                let (x, y) = (sample(d, shape, 0, &mut rng), sample(d, shape, 5, &mut rng));
                let y = if d == DType::I64 && matches!(b, BinaryOp::Div | BinaryOp::Rem) { nonzero(&y) } else { y };
                check_op(Op::Binary(b), &[x, y]);
            }
        }
    }
}

/// `t` with zeros replaced by 3.
fn nonzero(t: &Tensor) -> Tensor {
    t_i64(t.shape(), t.as_i64().unwrap().iter().map(|&x| if x == 0 { 3 } else { x }).collect())
}

#[test]
fn powi_agrees_bitwise() {
    let mut rng = Rng::seed_from_u64(3);
    for d in [DType::F64, DType::F32] {
        let x = sample(d, &[90], 0, &mut rng);
        for n in [-9, -5, -2, -1, 0, 1, 2, 3, 4, 5, 7, 8, 13, 63, 64, 1000, i64::MAX, i64::MIN] {
            check_op(Op::PowInt(n), std::slice::from_ref(&x));
        }
    }
}

#[test]
fn select_agrees_bitwise() {
    let mut rng = Rng::seed_from_u64(4);
    for d in ALL_DTYPES {
        for shape in SHAPES {
            let c = sample(DType::Bool, shape, 1, &mut rng);
            check_op(Op::Select, &[c, sample(d, shape, 0, &mut rng), sample(d, shape, 9, &mut rng)]);
        }
    }
}

#[test]
fn conversions_agree_bitwise() {
    let mut rng = Rng::seed_from_u64(5);
    for from in ALL_DTYPES {
        for to in ALL_DTYPES {
            check_op(Op::Convert { to }, &[sample(from, &[120], 0, &mut rng)]);
            check_op(Op::Convert { to }, &[sample(from, &[], 4, &mut rng)]);
        }
    }
}

#[test]
fn leaves_and_layout_ops_agree() {
    let mut rng = Rng::seed_from_u64(6);
    for d in ALL_DTYPES {
        let x = sample(d, &[2, 3, 4], 0, &mut rng);
        check_op(Op::Broadcast { shape: vec![5, 2, 3, 4] }, std::slice::from_ref(&x));
        check_op(Op::Reshape { shape: vec![6, 4] }, std::slice::from_ref(&x));
        check_op(Op::Transpose { perm: vec![2, 0, 1] }, std::slice::from_ref(&x));
        check_op(Op::Slice { starts: vec![1, 0, 1], ends: vec![2, 3, 3] }, std::slice::from_ref(&x));
        check_op(Op::Concat { axis: 1 }, &[x.clone(), sample(d, &[2, 5, 4], 1, &mut rng)]);
        check_op(Op::Gather { axis: 2 }, &[x.clone(), t_i64(&[], vec![3])]);
        check_op(Op::Iota { ty: Type::new(d, vec![3, 4]), axis: 1 }, &[]);
        if d != DType::Bool {
            check_op(Op::ArgMax { axis: Some(1) }, std::slice::from_ref(&x));
            check_op(Op::ArgMax { axis: None }, std::slice::from_ref(&x));
        }
        // A constant tensor, and a scalar constant broadcast (an immediate).
        let mut g = Graph::new("consts");
        let c = g.add(Op::Const(Const(Arc::new(x.clone()))), &[]).unwrap();
        let s = g.add(Op::Const(Const(Arc::new(sample(d, &[], 2, &mut rng)))), &[]).unwrap();
        let sb = g.add(Op::Broadcast { shape: vec![2, 3, 4] }, &[s]).unwrap();
        let eq = g.add(Op::Binary(BinaryOp::Eq), &[c, sb]).unwrap();
        g.outputs = vec![c, sb, eq, c];
        agree("constants", &g, &[]);
    }
}

// ---------------------------------------------------------------------------------------
// Views and fusion
// ---------------------------------------------------------------------------------------

/// `op(view(x), y)` for views that broadcast, transpose and slice into a region.
#[test]
fn strided_reads_agree() {
    let mut rng = Rng::seed_from_u64(7);
    for d in [DType::F64, DType::F32, DType::I64] {
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            (vec![3], vec![4, 3]),
            (vec![4, 1], vec![4, 3]),
            (vec![], vec![2, 3]),
            (vec![2, 1, 3], vec![2, 4, 3]),
            (vec![1, 5], vec![3, 1, 5]),
            (vec![5, 1, 1], vec![5, 4, 9]),
            (vec![1], vec![0, 3]),
        ];
        for (from, to) in cases {
            let x = sample(d, &from, 0, &mut rng);
            let y = sample(d, &to, 3, &mut rng);
            let mut g = Graph::new("bcast");
            let (a, b) = (input(&mut g, 0, &x), input(&mut g, 1, &y));
            let ab = g.add(Op::Broadcast { shape: to.clone() }, &[a]).unwrap();
            let s = g.add(Op::Binary(BinaryOp::Add), &[ab, b]).unwrap();
            let m = g.add(Op::Binary(BinaryOp::Max), &[s, ab]).unwrap();
            g.outputs = vec![m, ab];
            agree(&format!("broadcast {from:?} -> {to:?}"), &g, &[x, y]);
        }
        // transpose + slice + reshape chains feeding elementwise work.
        let x = sample(d, &[4, 6, 5], 0, &mut rng);
        let mut g = Graph::new("views");
        let a = input(&mut g, 0, &x);
        let t = g.add(Op::Transpose { perm: vec![2, 0, 1] }, &[a]).unwrap();
        let s = g.add(Op::Slice { starts: vec![1, 1, 0], ends: vec![4, 3, 6] }, &[t]).unwrap();
        let r = g.add(Op::Reshape { shape: vec![6, 6] }, &[s]).unwrap();
        let tr = g.add(Op::Transpose { perm: vec![1, 0] }, &[r]).unwrap();
        let p = g.add(Op::Binary(BinaryOp::Mul), &[r, tr]).unwrap();
        let sl = g.add(Op::Slice { starts: vec![0, 2, 1], ends: vec![4, 6, 4] }, &[a]).unwrap();
        let n = g.add(Op::Unary(UnaryOp::Neg), &[sl]).unwrap();
        g.outputs = vec![p, n, r, s];
        agree("views", &g, &[x]);
    }
}

/// Random chains of elementwise ops over one shape: one region, many members, values that
/// move between vector and lane form.
#[test]
fn fused_chains_agree() {
    for seed in 0..60u64 {
        let mut rng = Rng::seed_from_u64(100 + seed);
        let d = if seed % 3 == 0 { DType::F32 } else { DType::F64 };
        let shape: &[usize] = [&[37usize][..], &[4, 9], &[], &[2, 3, 5]][seed as usize % 4];
        let mut g = Graph::new("chain");
        let x = sample(d, shape, seed as usize, &mut rng);
        let y = sample(d, shape, 2 * seed as usize, &mut rng);
        let mut pool = vec![input(&mut g, 0, &x), input(&mut g, 1, &y)];
        let pick = |rng: &mut Rng, pool: &[NodeId]| pool[(rng.uniform_range(0.0, pool.len() as f64) as usize).min(pool.len() - 1)];
        for _ in 0..25 {
            let r = rng.uniform_range(0.0, 1.0);
            let a = pick(&mut rng, &pool);
            let b = pick(&mut rng, &pool);
            let float_nodes = |g: &Graph, n: NodeId| g.ty(n).dtype == d;
            if !float_nodes(&g, a) || !float_nodes(&g, b) {
                continue;
            }
            let n = if r < 0.3 {
                let u = UnaryOp::ALL[(rng.uniform_range(0.0, 18.0) as usize).min(17)];
                if !unary_accepts(u, d) {
                    continue;
                }
                g.add(Op::Unary(u), &[a]).unwrap()
            } else if r < 0.65 {
                let bo = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Max, BinaryOp::Min, BinaryOp::Pow, BinaryOp::Rem]
                    [(rng.uniform_range(0.0, 8.0) as usize).min(7)];
                g.add(Op::Binary(bo), &[a, b]).unwrap()
            } else if r < 0.75 {
                g.add(Op::PowInt(rng.uniform_range(-3.0, 5.0) as i64), &[a]).unwrap()
            } else if r < 0.9 {
                let cmp = [BinaryOp::Lt, BinaryOp::Ge, BinaryOp::Eq, BinaryOp::Ne][(rng.uniform_range(0.0, 4.0) as usize).min(3)];
                let c = g.add(Op::Binary(cmp), &[a, b]).unwrap();
                let c = if r < 0.8 { g.add(Op::Unary(UnaryOp::Not), &[c]).unwrap() } else { c };
                g.add(Op::Select, &[c, b, a]).unwrap()
            } else {
                let i = g.add(Op::Convert { to: DType::I64 }, &[a]).unwrap();
                let j = g.add(Op::Binary(BinaryOp::Mul), &[i, i]).unwrap();
                g.add(Op::Convert { to: d }, &[j]).unwrap()
            };
            pool.push(n);
        }
        let last = *pool.last().unwrap();
        let s = g.add(Op::Reduce { op: ReduceOp::Sum, axes: (0..shape.len()).collect() }, &[last]).unwrap();
        g.outputs = vec![last, s, pool[pool.len() / 2]];
        // Bit for bit with exact math only: the chains' `rem`, comparisons and conversions to
        // i64 are discontinuous, so an ulp of difference can become any difference (the
        // approximations are checked op by op and on the smooth programs).
        let args = [x, y];
        agree_inputs_with(&format!("chain {seed}"), &g, &Inputs { args: &args, params: &[], data: &[] }, Exact::Bits, false);
    }
}

// ---------------------------------------------------------------------------------------
// Reductions and products
// ---------------------------------------------------------------------------------------

fn axis_sets(rank: usize) -> Vec<Vec<usize>> {
    (0..1usize << rank).map(|m| (0..rank).filter(|i| m >> i & 1 == 1).collect()).collect()
}

#[test]
fn reductions_agree_bitwise() {
    let mut rng = Rng::seed_from_u64(8);
    let float_ops = [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min];
    let bool_ops = [ReduceOp::All, ReduceOp::Any, ReduceOp::Parity];
    for d in ALL_DTYPES {
        let ops: &[ReduceOp] = if d == DType::Bool { &bool_ops } else { &float_ops };
        for shape in [&[3usize, 4, 5][..], &[2, 0, 3], &[7], &[], &[1, 9, 1]] {
            for axes in axis_sets(shape.len()) {
                for &op in ops {
                    let x = sample(d, shape, axes.len(), &mut rng);
                    check_op(Op::Reduce { op, axes: axes.clone() }, &[x]);
                }
            }
        }
    }
    // Signed zeros and ties: the sum of [-0.0] is -0.0; max keeps the first of +0/-0.
    for v in [vec![-0.0], vec![-0.0, -0.0], vec![0.0, -0.0], vec![-0.0, 0.0], vec![f64::NAN, 1.0], vec![1.0, f64::NAN]] {
        for op in float_ops {
            check_op(Op::Reduce { op, axes: vec![0] }, &[t_f64(&[v.len()], v.clone())]);
        }
    }
}

/// A reduction fused into the region computing its operand, on a domain split across
/// threads: sums over the first axis are kept sequential, others split.
#[test]
fn fused_reductions_on_split_regions_agree() {
    let mut rng = Rng::seed_from_u64(10);
    for axes in axis_sets(3) {
        let x = sample(DType::F64, &[6, 5, 7], 0, &mut rng);
        let mut g = Graph::new("fused");
        let a = input(&mut g, 0, &x);
        let s = g.add(Op::Unary(UnaryOp::Sin), &[a]).unwrap();
        let m = g.add(Op::Binary(BinaryOp::Mul), &[s, a]).unwrap();
        let r = g.add(Op::Reduce { op: ReduceOp::Sum, axes: axes.clone() }, &[m]).unwrap();
        let q = g.add(Op::Reduce { op: ReduceOp::Max, axes: axes.clone() }, &[a]).unwrap();
        g.outputs = vec![r, m, q];
        agree(&format!("fused sum over {axes:?}"), &g, &[x]);
    }
}

#[test]
fn matmuls_agree_within_rounding() {
    let mut rng = Rng::seed_from_u64(11);
    for d in [DType::F64, DType::F32, DType::I64] {
        let tol = if d == DType::F32 { 1e-5 } else { 1e-12 };
        for (m, k, n) in [(3, 4, 5), (1, 1, 1), (17, 33, 9), (4, 0, 3), (0, 3, 2), (64, 70, 65)] {
            let a = random(d, &[m, k], &mut rng);
            let b = random(d, &[k, n], &mut rng);
            let at = random(d, &[k, m], &mut rng);
            let mut g = Graph::new("mm");
            let (x, y, xt) = (input(&mut g, 0, &a), input(&mut g, 1, &b), input(&mut g, 2, &at));
            let p = g.add(Op::MatMul, &[x, y]).unwrap();
            let t = g.add(Op::Transpose { perm: vec![1, 0] }, &[xt]).unwrap();
            let q = g.add(Op::MatMul, &[t, y]).unwrap();
            g.outputs = vec![p, q];
            let args = [a, b, at];
            agree_inputs(&format!("matmul {d} {m}x{k}x{n}"), &g, &Inputs { args: &args, params: &[], data: &[] }, Exact::Within(tol));
        }
        // Batched, with a broadcast operand.
        let a = random(d, &[3, 4, 6], &mut rng);
        let b = random(d, &[6, 2], &mut rng);
        let mut g = Graph::new("bmm");
        let (x, y) = (input(&mut g, 0, &a), input(&mut g, 1, &b));
        let yb = g.add(Op::Broadcast { shape: vec![3, 6, 2] }, &[y]).unwrap();
        let p = g.add(Op::MatMul, &[x, yb]).unwrap();
        g.outputs = vec![p];
        let args = [a, b];
        agree_inputs("batched matmul", &g, &Inputs { args: &args, params: &[], data: &[] }, Exact::Within(tol));
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[test]
fn errors_are_the_interpreters() {
    // Integer division by zero inside a fused region, with a float chain beside it.
    let x = t_i64(&[9], vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let y = t_i64(&[9], vec![1, 1, 1, 0, 1, 1, 1, 1, 1]);
    for op in [BinaryOp::Div, BinaryOp::Rem] {
        let mut g = Graph::new("div");
        let (a, b) = (input(&mut g, 0, &x), input(&mut g, 1, &y));
        let s = g.add(Op::Binary(BinaryOp::Add), &[a, b]).unwrap();
        let q = g.add(Op::Binary(op), &[s, b]).unwrap();
        let n = g.add(Op::Unary(UnaryOp::Neg), &[q]).unwrap();
        g.outputs = vec![n];
        let args = [x.clone(), y.clone()];
        let e = compile(&g, &variants()[0]).run(&Inputs { args: &args, params: &[], data: &[] }).unwrap_err();
        assert_eq!(e, (q, EvalError::DivisionByZero));
        agree("division by zero", &g, &args);
    }
    // Out-of-range gather, negative and past the end.
    for i in [-1, 4, 3] {
        check_op(Op::Gather { axis: 0 }, &[t_f64(&[4, 2], vec![1.0; 8]), t_i64(&[], vec![i])]);
    }
    check_op(Op::ArgMax { axis: None }, &[t_f64(&[0], vec![])]);
    // Missing and mistyped inputs.
    let x = t_f64(&[3], vec![1.0, 2.0, 3.0]);
    let g = one_op(Op::Unary(UnaryOp::Exp), std::slice::from_ref(&x));
    let k = compile(&g, &variants()[0]);
    let none: [Tensor; 0] = [];
    assert_eq!(k.run(&Inputs { args: &none, params: &[], data: &[] }), run(&g, &Inputs { args: &none, params: &[], data: &[] }));
    let wrong = [t_f64(&[4], vec![0.0; 4])];
    let e = k.run(&Inputs { args: &wrong, params: &[], data: &[] }).unwrap_err();
    assert!(matches!(e.1, EvalError::InputType { .. }), "{e:?}");
}

// ---------------------------------------------------------------------------------------
// Programs
// ---------------------------------------------------------------------------------------

/// Random inputs for every input node of `g`, by type (integers small, so gathers mostly fit).
fn inputs_for(g: &Graph, seed: u64) -> (Vec<Tensor>, Vec<Tensor>, Vec<Tensor>) {
    let mut rng = Rng::seed_from_u64(seed);
    let (mut args, mut params, mut data) = (vec![], vec![], vec![]);
    let mut sources: Vec<(Source, Type)> = g.inputs().map(|(id, s)| (s, g.ty(id).clone())).collect();
    sources.sort_by_key(|(s, _)| *s);
    sources.dedup_by_key(|(s, _)| *s);
    for (s, ty) in sources {
        let n = ty.len();
        let t = match ty.dtype {
            DType::F64 => t_f64(&ty.shape, (0..n).map(|_| rng.uniform_range(-2.0, 2.0)).collect()),
            DType::F32 => t_f32(&ty.shape, (0..n).map(|_| rng.uniform_range(-2.0, 2.0) as f32).collect()),
            DType::I64 => t_i64(&ty.shape, (0..n).map(|_| rng.uniform_range(0.0, 3.0) as i64).collect()),
            DType::Bool => t_bool(&ty.shape, (0..n).map(|_| rng.uniform_range(0.0, 1.0) < 0.5).collect()),
        };
        let (list, k) = match s {
            Source::Arg(k) => (&mut args, k),
            Source::Param(k) => (&mut params, k),
            Source::Data(k) => (&mut data, k),
            Source::Random(_) => unreachable!("the graphs here come from statements, whose draws are arguments"),
        };
        while list.len() < k as usize {
            list.push(Tensor::scalar_f64(0.0));
        }
        list.push(t);
    }
    (args, params, data)
}

fn has_matmul(g: &Graph) -> bool {
    g.ids().any(|id| matches!(g.op(id), Op::MatMul) && g.ty(id).dtype.is_float())
}

fn agree_program_graph(what: &str, g: &Graph, seed: u64) {
    gradc_compiler::ir::verify::verify(g).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (args, params, data) = inputs_for(g, seed);
    let exact = if has_matmul(g) { Exact::Within(1e-9) } else { Exact::Bits };
    agree_inputs(what, g, &Inputs { args: &args, params: &params, data: &data }, exact);
}

/// Every function instance of a gd program, simplified, and its derivatives where they apply.
fn agree_program(name: &str, source: &str, dir: &Path) -> usize {
    let checked = check_source(name, source, dir.to_path_buf());
    assert!(checked.is_ok(), "{name} does not check:\n{}", checked.render(false));
    let p = &checked.program;
    let mut graphs = 0;
    for i in 0..p.fns.len() {
        let id = FnId(i as u32);
        let Ok(g) = lower_fn(p, id) else { continue };
        agree_program_graph(&format!("{name}: {}", p.fns[i].name), &simplify(&g), i as u64);
        graphs += 1;
        // `value_and_grad` and `hessian` only where `grad` applies (`transform_fn` checks
        // only `grad` and `hessian`).
        let scalar = transform_fn(p, id, Transform::Grad { wrt: 0 }).is_ok();
        let ops: &[Transform] = if scalar {
            &[Transform::Grad { wrt: 0 }, Transform::ValueAndGrad { wrt: 0 }, Transform::Hessian { wrt: 0 }, Transform::Jvp, Transform::Vjp]
        } else {
            &[Transform::Jvp, Transform::Vjp]
        };
        for &op in ops {
            if let Ok(g) = transform_fn(p, id, op) {
                agree_program_graph(&format!("{name}: {} of {}", op.name(), p.fns[i].name), &simplify(&g), i as u64 + 7);
                graphs += 1;
            }
        }
    }
    graphs
}

const PROGRAMS: &[&str] = &[
    "fn f(x: f64) -> f64 { sin(x) * exp(x) / (x * x + 1.0) }",
    "fn f(x: f64[3]) -> f64 { sum(tanh(x) * log(x * x + 1.0) + sigmoid(x) ^ 3) }",
    "fn f(x: f64[2, 3], y: f64[3]) -> f64[2] { sum(x * y, axis = 1) + prod(cos(x), axis = 1) }",
    "fn f(x: f64[3], y: f64[3, 2]) -> f64[2] { x @ y + softplus(x) @ (y * y) }",
    "fn f(x: f64[2, 2]) -> f64 { sum(x @ x.T) + logsumexp(x) + mean(gelu(x)) }",
    "fn f(x: f64[4]) -> f64 { erf(x[0]) * sqrt(x[1] * x[1] + 2.0) + (x[2] * x[2] + 1.0) ^ tanh(x[3]) }",
    "fn f(x: f64[2, 3]) -> f64[3, 2] { transpose(x) * 2.0 + reshape(x, [3, 2]) ^ -2 }",
    "fn f(x: f64[3]) -> f64[6] { concat([exp(x), sin(x[0:3])], axis = 0) }",
    "fn f(x: f64[3], y: f64) -> f64 { let mut s = 0.0; for i in 0..3 { s = s + x[i] * (y * y + 1.0) ^ f64(i); } s }",
    "fn f(x: f64[2]) -> (f64, f64[2]) { (sum(x ^ 2), x * tan(0.3 * tanh(x))) }",
    "fn f(x: f64[3]) -> f64 { let g = |t: f64[3]| sum(sin(t) * t); g(x) * g(2.0 * x) }",
    "fn f(x: f64[2, 2]) -> f64 { prod(x) + prod(x, axis = 0)[1] }",
    "fn f(x: f64[2]) -> f64 { sum(stack([x, x * x], axis = 1) @ [1.0, -1.0]) }",
    "fn f(x: f64[3]) -> f64 { sum(broadcast(x, [2, 3]) * [[1.0], [2.0]]) % 1.7 }",
    "fn f(x: f64[3], y: f64[3]) -> f64 { sum(max(x, y) + relu(x) * abs(y) + clamp(x, -0.5, 0.5)) }",
    "fn f(x: f64[3]) -> f64 { if sum(x) > 0.0 { x[argmax(x)] * 2.0 } else { min(x) } }",
    "fn f(x: f64[3]) -> f64[3] { if x > 0.0 { x * x } else { -x } }",
    "fn f(x: f64[4]) -> f64 { max(x) * f64(argmax(x)) + floor(x[0]) * x[1] + sign(x[2]) * x[3] }",
    "fn f(x: f64[3]) -> f64 { let d = [1, 2, 0]; x[d[0]] * x[d[1]] + x[d[2]] }",
    "fn f(x: f32[5], y: f32[5]) -> f32 { sum(exp(x) * y - tanh(y) / (1.0 + x ^ 2)) }",
    "fn f(x: i64[4], y: i64[4]) -> i64 { sum(x * y - x / (y + 5) + abs(x % 3)) }",
    "fn f(x: f64[64, 33]) -> f64 { sum(softplus(x) * x - 0.5 * cos(x) ^ 2, axis = 0)[3] + sum(x) }",
];

#[test]
fn hand_written_programs_and_their_derivatives_agree() {
    let dir = std::env::temp_dir();
    let mut graphs = 0;
    for (i, src) in PROGRAMS.iter().enumerate() {
        graphs += agree_program(&format!("p{i}.gd"), src, &dir);
    }
    assert!(graphs > 60, "{graphs} graphs");
}

#[test]
fn example_programs_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut graphs = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "gd") {
            let text = std::fs::read_to_string(&path).unwrap();
            graphs += agree_program(&path.file_name().unwrap().to_string_lossy(), &text, &dir);
        }
    }
    assert!(graphs > 10, "{graphs} graphs");
}

#[test]
fn generated_programs_and_their_derivatives_agree() {
    for seed in 0..40u64 {
        let opts = GenOptions { max_depth: 5, scalar_out: seed % 2 == 0, smooth_only: seed % 3 == 0 };
        let p = gen::generate(seed, opts);
        agree_program(&format!("gen{seed}.gd"), &p.source, &std::env::temp_dir());
    }
}

// ---------------------------------------------------------------------------------------
// Text, memory, speed
// ---------------------------------------------------------------------------------------

#[test]
fn clif_shows_each_region() {
    let g = p1_graph(Transform::ValueAndGrad { wrt: 0 }, 1000);
    let text = codegen::clif(&g);
    assert!(text.contains("function u0:0(i64, i64, i64, i64)"), "{text}");
    assert!(text.contains("call fn"), "the transcendental shims are called: {text}");
    assert!(text.contains("; region 0:"), "{text}");
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn compiling_and_dropping_does_not_grow_memory() {
    let x = t_f64(&[16], (0..16).map(|i| i as f64 / 4.0).collect());
    let mut g = Graph::new("small");
    let a = input(&mut g, 0, &x);
    let s = g.add(Op::Unary(UnaryOp::Sin), &[a]).unwrap();
    let m = g.add(Op::Binary(BinaryOp::Mul), &[s, a]).unwrap();
    let r = g.add(Op::Reduce { op: ReduceOp::Sum, axes: vec![0] }, &[m]).unwrap();
    g.outputs = vec![r, m];
    let args = [x];
    let want = run(&g, &Inputs { args: &args, params: &[], data: &[] }).unwrap();
    let opts = Options { verify: false, exact_math: true, ..Options::default() };
    for i in 1..=1000 {
        let k = codegen::compile_with(&g, &opts).unwrap();
        let got = k.run(&Inputs { args: &args, params: &[], data: &[] }).unwrap();
        assert_eq!(bits(&got[0]), bits(&want[0]));
        drop(k);
        if [100, 500, 1000].contains(&i) {
            println!("after {i:>4} compile-and-drop cycles: RSS {} KiB", rss_kib());
        }
    }
}

/// The graph of `op` applied to P1's `f` (../shared/bench/p1_elementwise.gd) at length `n`.
fn p1_graph(op: Transform, n: usize) -> Graph {
    let src = format!(
        "fn f[N](x: f64[N]) -> f64 {{ sum(tanh(x) * sin(x) + log(1 + x ^ 2) - 0.5 * exp(-x ^ 2)) }}\n\
         fn g(x: f64[{n}]) -> f64 {{ f(x) }}"
    );
    let checked = check_source("p1.gd", &src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    let p = &checked.program;
    let i = p.fns.iter().position(|f| f.name == "g").unwrap();
    simplify(&transform_fn(p, FnId(i as u32), op).unwrap())
}

fn median_ms(mut f: impl FnMut(), iters: usize) -> f64 {
    let mut times: Vec<f64> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[iters / 2]
}

#[test]
fn p1_value_and_grad_timing() {
    let n = 1_000_000;
    let g = p1_graph(Transform::ValueAndGrad { wrt: 0 }, n);
    let mut rng = Rng::seed_from_u64(1);
    let x = t_f64(&[n], (0..n).map(|_| rng.normal_f64()).collect());
    let args = [x];
    let inputs = Inputs { args: &args, params: &[], data: &[] };
    let want = run(&g, &inputs).unwrap();
    let t0 = Instant::now();
    let one = Options { threads: 1, verify: false, ..Options::default() };
    let mut configs = vec![("jit, 1 thread".to_string(), one.clone())];
    configs.push(("jit, 1 thread, no simd".into(), Options { simd: false, ..one.clone() }));
    configs.push(("jit, 1 thread, exact math".into(), Options { exact_math: true, ..one.clone() }));
    let cores = Options::default().threads;
    let mut t = 2;
    while t <= cores {
        configs.push((format!("jit, {t} threads"), Options { threads: t, ..one.clone() }));
        t *= 2;
    }
    if !cores.is_power_of_two() {
        configs.push((format!("jit, {cores} threads"), Options { threads: cores, ..one.clone() }));
    }
    let _ = codegen::compile(&g).unwrap();
    println!("P1 value_and_grad over 10^6 f64 ({} nodes); compile {:.2} ms", g.live_count(), t0.elapsed().as_secs_f64() * 1e3);
    let interp_ms = median_ms(|| drop(run(&g, &inputs).unwrap()), 5);
    println!("  interpreter: {interp_ms:8.2} ms");
    for (name, opts) in configs {
        let t = Instant::now();
        let k = codegen::compile_with(&g, &opts).unwrap();
        let compile_ms = t.elapsed().as_secs_f64() * 1e3;
        let got = k.run(&inputs).unwrap();
        for (a, b) in got.iter().zip(&want) {
            if opts.exact_math {
                assert_eq!(bits(a), bits(b), "{name}");
            } else {
                let (a, b) = (a.to_f64_vec(), b.to_f64_vec());
                let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                for (p, q) in a.iter().zip(&b) {
                    assert!((p - q).abs() <= 1e-12 * scale, "{name}: {p} vs {q}");
                }
            }
        }
        let ms = median_ms(|| drop(k.run(&inputs).unwrap()), 15);
        println!("  {name:<24}: {ms:8.2} ms ({:.1}x; compile {compile_ms:.1} ms; {:?})", interp_ms / ms, k.stats());
        if opts.threads == 1 {
            // One loop: the value's sum accumulated beside the gradient.
            assert_eq!((k.stats().regions, k.stats().reductions), (1, 1));
        }
    }
}



/// The order-8 nested `grad` of the derivative passes' tests, from source to native code.
#[test]
fn order_eight_nested_grad_compiles_and_agrees() {
    let src = "fn f(x: f64) -> f64 { sin(exp(cos(tanh(x * x + 1.0)) / 2.0) * sqrt(x * x + 2.0)) + log(x * x + 3.0) }\n\
               fn d8(x: f64) -> f64 { grad(grad(grad(grad(grad(grad(grad(grad(f))))))))(x) }";
    let start = Instant::now();
    let checked = check_source("nested.gd", src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    let p = &checked.program;
    let i = p.fns.iter().position(|f| f.name == "d8").unwrap();
    let g = simplify(&lower_fn(p, FnId(i as u32)).unwrap());
    let lowered = start.elapsed();
    let k = codegen::compile_with(&g, &Options { verify: false, exact_math: true, ..Options::default() }).unwrap();
    let total = start.elapsed();
    let x = [Tensor::scalar_f64(0.7)];
    let inputs = Inputs { args: &x, params: &[], data: &[] };
    let got = k.run(&inputs).unwrap();
    let want = run(&g, &inputs).unwrap();
    assert_eq!(bits(&got[0]), bits(&want[0]));
    println!(
        "order-8 nested grad: {} nodes; source to IR {:.1} ms, to native code {:.1} ms ({} regions); value {}",
        g.live_count(),
        lowered.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        k.stats().regions,
        got[0].scalar_value().unwrap()
    );
    agree("order-8 nested grad", &g, &x);
}

#[test]
fn kernels_are_send_and_sync_and_run_concurrently() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Kernel>();
    let g = p1_graph(Transform::ValueAndGrad { wrt: 0 }, 4096);
    let k = codegen::compile_with(&g, &Options { threads: 2, min_parallel_len: 64, ..variants()[0].clone() }).unwrap();
    let x = [t_f64(&[4096], (0..4096).map(|i| (i as f64 - 2048.0) / 512.0).collect())];
    let inputs = Inputs { args: &x, params: &[], data: &[] };
    let want = run(&g, &inputs).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    let got = k.run(&inputs).unwrap();
                    assert_eq!(got.iter().map(bits).collect::<Vec<_>>(), want.iter().map(bits).collect::<Vec<_>>());
                }
            });
        }
    });
}

#[test]
fn degenerate_graphs_agree() {
    let x = t_f64(&[2, 3], vec![1.0, -0.0, f64::NAN, 4.0, 5.0, 6.0]);
    // No outputs.
    let mut g = Graph::new("none");
    input(&mut g, 0, &x);
    agree("no outputs", &g, std::slice::from_ref(&x));
    // An input returned twice, and reshaped, transposed and broadcast views of it.
    let mut g = Graph::new("views out");
    let a = input(&mut g, 0, &x);
    let r = g.add(Op::Reshape { shape: vec![3, 2] }, &[a]).unwrap();
    let t = g.add(Op::Transpose { perm: vec![1, 0] }, &[a]).unwrap();
    let rt = g.add(Op::Reshape { shape: vec![6] }, &[t]).unwrap();
    let b = g.add(Op::Broadcast { shape: vec![2, 2, 3] }, &[a]).unwrap();
    g.outputs = vec![a, a, r, t, rt, b, rt];
    agree("views as outputs", &g, std::slice::from_ref(&x));
}

/// `gather` (a view offset at run time), `iota` and `concat` (native loops) with no step left
/// to the interpreter: composed with views, in regions and products, and gathers out of range.
#[test]
fn gather_iota_concat_are_native() {
    let mut rng = Rng::seed_from_u64(21);
    for i in [0, 1, 2, -1, 3] {
        for d in [DType::F64, DType::F32, DType::I64, DType::Bool] {
            let x = sample(d, &[3, 4, 2], 1, &mut rng);
            let idx = t_i64(&[], vec![i]);
            let mut g = Graph::new("t");
            let (a, k) = (input(&mut g, 0, &x), input(&mut g, 1, &idx));
            // x.T[.., .., i] then [1] along the (new) first axis: a view of x at run time.
            let t = g.add(Op::Transpose { perm: vec![2, 1, 0] }, &[a]).unwrap();
            let gi = g.add(Op::Gather { axis: 2 }, &[t, k]).unwrap();
            let one = g.add(Op::Const(Const(Arc::new(t_i64(&[], vec![1])))), &[]).unwrap();
            let gg = g.add(Op::Gather { axis: 0 }, &[gi, one]).unwrap();
            let io = g.add(Op::Iota { ty: Type::new(d, vec![4]), axis: 0 }, &[]).unwrap();
            let s = g.add(Op::Slice { starts: vec![0, 1, 1], ends: vec![1, 3, 2] }, &[a]).unwrap();
            let s = g.add(Op::Reshape { shape: vec![2] }, &[s]).unwrap();
            let c = g.add(Op::Concat { axis: 0 }, &[gg, io, s, gg]).unwrap();
            let mut outs = vec![gi, c, io];
            if d != DType::Bool {
                let sum = g.add(Op::Binary(BinaryOp::Max), &[gg, io]).unwrap();
                let r = g.add(Op::Reduce { op: ReduceOp::Sum, axes: vec![0] }, &[sum]).unwrap();
                outs.extend([sum, r]);
            }
            if d.is_float() {
                let gt = g.add(Op::Transpose { perm: vec![1, 0] }, &[gi]).unwrap();
                let m = g.add(Op::MatMul, &[gi, gt]).unwrap();
                outs.push(m);
            }
            g.outputs = outs;
            for opts in variants() {
                let st = compile(&g, &opts).stats();
                assert_eq!((st.scans, st.matmuls), (0, usize::from(d.is_float())), "{st:?}");
            }
            let args = [x, idx];
            let exact = if d.is_float() { Exact::Within(1e-12) } else { Exact::Bits };
            agree_inputs(&format!("gather {i} of {d:?}"), &g, &Inputs { args: &args, params: &[], data: &[] }, exact);
            if !(0..3).contains(&i) {
                let e = compile(&g, &variants()[0]).run(&Inputs { args: &args, params: &[], data: &[] }).unwrap_err();
                assert_eq!(e, (gi, EvalError::IndexOutOfRange { index: i, len: 3 }));
            }
        }
    }
}
