//! One test per rule of the simplifier (`passes::simplify`), on small graphs built directly.
//!
//! Every test checks what the rule does to the graph (its node count and ops) and that the
//! graph computes the same bits before and after, on inputs that include `±0`, `±inf` and NaN:
//! the simplifier's contract is that no rewrite changes an IEEE result.

use std::sync::Arc;

use gradc_compiler::interp::{self, EvalError, Inputs};
use gradc_compiler::ir::op::Const;
use gradc_compiler::ir::verify::verify;
use gradc_compiler::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type, UnaryOp};
use gradc_compiler::passes::simplify::simplify;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

// ----- building graphs -----

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// The float values every test runs on: signed zeros, infinities, NaN, a subnormal, extremes.
const SPECIALS: [f64; 13] = [0.0, -0.0, 1.0, -1.0, INF, -INF, NAN, 2.5, -3.5, 1e-310, -1e-310, f64::MAX, f64::MIN];
const INTS: [i64; 7] = [0, 1, -1, 7, -8, i64::MAX, i64::MIN];

fn input(g: &mut Graph, k: u32, dtype: DType, shape: &[usize]) -> NodeId {
    g.add(Op::Input { source: Source::Arg(k), ty: Type::new(dtype, shape.to_vec()) }, &[]).unwrap()
}

fn x64(g: &mut Graph, k: u32) -> NodeId {
    input(g, k, DType::F64, &[])
}

fn konst(g: &mut Graph, t: Tensor) -> NodeId {
    g.add(Op::Const(Const(Arc::new(t))), &[]).unwrap()
}

fn c64(g: &mut Graph, v: f64) -> NodeId {
    konst(g, Tensor::scalar_f64(v))
}

fn cbool(g: &mut Graph, v: bool) -> NodeId {
    konst(g, Tensor::scalar_bool(v))
}

fn un(g: &mut Graph, u: UnaryOp, a: NodeId) -> NodeId {
    g.add(Op::Unary(u), &[a]).unwrap()
}

fn bin(g: &mut Graph, b: BinaryOp, x: NodeId, y: NodeId) -> NodeId {
    g.add(Op::Binary(b), &[x, y]).unwrap()
}

fn add(g: &mut Graph, op: Op, args: &[NodeId]) -> NodeId {
    g.add(op, args).unwrap()
}

/// A graph of one output.
fn with_output(mut g: Graph, out: NodeId) -> Graph {
    g.outputs = vec![out];
    g
}

/// The ops of a graph's nodes, in order.
fn ops(g: &Graph) -> Vec<&'static str> {
    g.ids().map(|id| g.op(id).name()).collect()
}

// ----- running graphs -----

/// A value of `ty` for sample `s` of argument `k`.
fn value(ty: &Type, k: usize, s: usize) -> Tensor {
    let at = |i: usize, len: usize| (i + 5 * k + s * (k + 1)) % len;
    let n = ty.len();
    let data = match ty.dtype {
        DType::F64 => Buffer::F64((0..n).map(|i| SPECIALS[at(i, SPECIALS.len())]).collect()),
        DType::F32 => Buffer::F32((0..n).map(|i| SPECIALS[at(i, SPECIALS.len())] as f32).collect()),
        DType::I64 => Buffer::I64((0..n).map(|i| INTS[at(i, INTS.len())]).collect()),
        DType::Bool => Buffer::Bool((0..n).map(|i| at(i, 3) != 0).collect()),
    };
    Tensor::new(ty.shape.clone(), data).unwrap()
}

/// Argument lists for a graph: every combination of values when there are at most two
/// scalar arguments, otherwise enough samples for every argument to see every value.
fn samples(g: &Graph) -> Vec<Vec<Tensor>> {
    let mut tys: Vec<Option<Type>> = Vec::new();
    for (id, source) in g.inputs() {
        let Source::Arg(k) = source else { panic!("the tests use arguments only") };
        if tys.len() <= k as usize {
            tys.resize(k as usize + 1, None);
        }
        tys[k as usize] = Some(g.ty(id).clone());
    }
    let tys: Vec<Type> = tys.into_iter().map(|t| t.unwrap_or(Type::scalar(DType::F64))).collect();
    let count = |t: &Type| match t.dtype {
        DType::F64 | DType::F32 => SPECIALS.len(),
        DType::I64 => INTS.len(),
        DType::Bool => 2,
    };
    if tys.len() <= 2 && tys.iter().all(|t| t.rank() == 0) {
        let mut out: Vec<Vec<Tensor>> = vec![vec![]];
        for t in &tys {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    (0..count(t)).map(move |s| {
                        let mut p = prefix.clone();
                        p.push(value(t, 0, s));
                        p
                    })
                })
                .collect();
        }
        return out;
    }
    (0..SPECIALS.len() * 2).map(|s| tys.iter().enumerate().map(|(k, t)| value(t, k, s)).collect()).collect()
}

fn run(g: &Graph, args: &[Tensor]) -> Result<Vec<Tensor>, EvalError> {
    interp::run(g, &Inputs { args, params: &[], data: &[] }).map_err(|(_, e)| e)
}

/// Each element's bit pattern.
fn bits(t: &Tensor) -> Vec<u64> {
    match t.data() {
        Buffer::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        Buffer::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
        Buffer::I64(v) => v.iter().map(|&x| x as u64).collect(),
        Buffer::Bool(v) => v.iter().map(|&x| x as u64).collect(),
    }
}

/// Values, with the bits of each NaN (whose sign and payload matter here).
fn show(r: &Result<Vec<Tensor>, EvalError>) -> String {
    let one = |x: f64| if x.is_nan() { format!("NaN({:#x})", x.to_bits()) } else { format!("{x:?}") };
    match r {
        Ok(ts) => format!("{:?}", ts.iter().map(|t| t.to_f64_vec().into_iter().map(one).collect::<Vec<_>>()).collect::<Vec<_>>()),
        Err(e) => format!("error: {e}"),
    }
}

/// Verifies `g`, simplifies it, verifies the result, and checks that both compute the same
/// bits (or the same error) on every sample. Returns the simplified graph.
fn simplified(g: &Graph) -> Graph {
    verify(g).unwrap_or_else(|e| panic!("the test graph does not verify: {e}"));
    let s = simplify(g);
    verify(&s).unwrap_or_else(|e| panic!("the simplified graph does not verify: {e}\n{}", gradc_compiler::ir::print::print_all(&s)));
    // A splat of rank > 0 is spelled `broadcast(const)`, which may be a node more than before
    // (see `simplify_never_grows_a_graph`); the nodes that compute must not grow.
    assert!(computing(&s) <= computing(g), "simplify grew the graph from {} to {} computing nodes", computing(g), computing(&s));
    for args in samples(g) {
        let (want, got) = (run(g, &args), run(&s, &args));
        let same = match (&want, &got) {
            (Ok(w), Ok(o)) => w.len() == o.len() && w.iter().zip(o).all(|(a, b)| a.shape() == b.shape() && bits(a) == bits(b)),
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        let args: Vec<Vec<f64>> = args.iter().map(|t| t.to_f64_vec()).collect();
        assert!(same, "different results for {args:?}: {} before, {} after", show(&want), show(&got));
    }
    s
}

/// The nodes that compute: all but constants and broadcasts of constants.
fn computing(g: &Graph) -> usize {
    let splat = |id: NodeId| match g.op(id) {
        Op::Const(_) => true,
        Op::Broadcast { .. } => matches!(g.op(g.args(id)[0]), Op::Const(_)),
        _ => false,
    };
    g.ids().filter(|&id| !splat(id)).count()
}

fn f64_of(t: &Tensor) -> f64 {
    t.scalar_value().expect("a scalar")
}

// ----- folding, CSE, DCE -----

#[test]
fn folds_constant_operations() {
    let mut g = Graph::new("fold");
    let a = c64(&mut g, 1.0);
    let e = un(&mut g, UnaryOp::Exp, a);
    let b = c64(&mut g, 2.0);
    let s = bin(&mut g, BinaryOp::Add, e, b);
    let p = add(&mut g, Op::PowInt(-2), &[s]);
    let g = with_output(g, p);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["const"]);
    let want = 1.0 / ((1f64.exp() + 2.0) * (1f64.exp() + 2.0));
    assert_eq!(f64_of(&run(&s, &[]).unwrap()[0]).to_bits(), want.to_bits());
}

#[test]
fn folds_through_inputs_only_where_operands_are_constant() {
    let mut g = Graph::new("partial");
    let x = x64(&mut g, 0);
    let a = c64(&mut g, 3.0);
    let b = c64(&mut g, 4.0);
    let ab = bin(&mut g, BinaryOp::Mul, a, b);
    let y = bin(&mut g, BinaryOp::Add, x, ab);
    let g = with_output(g, y);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "const", "add"]);
}

#[test]
fn a_broadcast_constant_stays_a_broadcast() {
    // Folding must not turn `broadcast(0.0)` into a tensor of zeros (nor, small as it may be,
    // hide the splat from the identities).
    let mut g = Graph::new("expand");
    let z = c64(&mut g, 0.0);
    let big = add(&mut g, Op::Broadcast { shape: vec![10, 10] }, &[z]);
    let small = add(&mut g, Op::Broadcast { shape: vec![2, 3] }, &[z]);
    g.outputs = vec![big, small];
    let s = simplified(&g);
    assert_eq!(ops(&s), ["const", "broadcast", "broadcast"]);
}

#[test]
fn a_splat_constant_becomes_a_broadcast_scalar() {
    let mut g = Graph::new("splat_const");
    let c = konst(&mut g, Tensor::from_f64s(DType::F64, vec![2, 2], &[-0.0; 4]).unwrap());
    let m = konst(&mut g, Tensor::from_f64s(DType::F64, vec![2], &[1.0, 2.0]).unwrap());
    g.outputs = vec![c, m];
    let s = simplified(&g);
    assert_eq!(ops(&s), ["const", "broadcast", "const"]);
    assert_eq!(s.ty(s.outputs[0]).shape, [2, 2]);
}

#[test]
fn elementwise_ops_of_splats_fold_to_a_splat() {
    let mut g = Graph::new("splats");
    let one = c64(&mut g, 1.0);
    let ones = add(&mut g, Op::Broadcast { shape: vec![3, 4] }, &[one]);
    let three = c64(&mut g, 3.0);
    let threes = add(&mut g, Op::Broadcast { shape: vec![3, 4] }, &[three]);
    let n = un(&mut g, UnaryOp::Neg, ones);
    let d = bin(&mut g, BinaryOp::Div, n, threes);
    let g = with_output(g, d);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["const", "broadcast"]);
    let out = run(&s, &[]).unwrap();
    assert!(out[0].to_f64_vec().iter().all(|v| v.to_bits() == (-1.0f64 / 3.0).to_bits()));
}

#[test]
fn a_failing_op_on_splats_is_left_for_run_time() {
    let mut g = Graph::new("div_zero");
    let one = konst(&mut g, Tensor::scalar_i64(1));
    let ones = add(&mut g, Op::Broadcast { shape: vec![3] }, &[one]);
    let zero = konst(&mut g, Tensor::scalar_i64(0));
    let zeros = add(&mut g, Op::Broadcast { shape: vec![3] }, &[zero]);
    let d = bin(&mut g, BinaryOp::Div, ones, zeros);
    let g = with_output(g, d);
    let s = simplified(&g);
    assert_eq!(ops(&s).last(), Some(&"div"));
    assert_eq!(run(&s, &[]).unwrap_err(), EvalError::DivisionByZero);
}

#[test]
fn a_broadcast_of_a_broadcast_is_one_broadcast() {
    let mut g = Graph::new("bcast2");
    let x = input(&mut g, 0, DType::F64, &[3, 1]);
    let a = add(&mut g, Op::Broadcast { shape: vec![3, 4] }, &[x]);
    let b = add(&mut g, Op::Broadcast { shape: vec![2, 3, 4] }, &[a]);
    let g = with_output(g, b);
    assert_eq!(ops(&simplified(&g)), ["input", "broadcast"]);
}

#[test]
fn an_op_that_fails_is_left_for_run_time() {
    let mut g = Graph::new("bad_index");
    let v = konst(&mut g, Tensor::from_f64s(DType::F64, vec![3], &[1.0, 2.0, 3.0]).unwrap());
    let i = konst(&mut g, Tensor::scalar_i64(5));
    let x = add(&mut g, Op::Gather { axis: 0 }, &[v, i]);
    let g = with_output(g, x);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["const", "const", "gather"]);
    assert!(matches!(run(&s, &[]), Err(EvalError::IndexOutOfRange { index: 5, len: 3 })));
}

#[test]
fn cse_merges_identical_nodes() {
    let mut g = Graph::new("cse");
    let x = x64(&mut g, 0);
    let a = un(&mut g, UnaryOp::Sin, x);
    let b = un(&mut g, UnaryOp::Sin, x);
    let one = c64(&mut g, 3.0);
    let three = c64(&mut g, 3.0);
    let a3 = bin(&mut g, BinaryOp::Mul, a, one);
    let b3 = bin(&mut g, BinaryOp::Mul, b, three);
    let y = bin(&mut g, BinaryOp::Sub, a3, b3);
    let g = with_output(g, y);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "sin", "const", "mul", "sub"]);
}

#[test]
fn cse_keeps_constants_that_differ_only_in_the_sign_of_zero() {
    let mut g = Graph::new("zeros");
    let x = x64(&mut g, 0);
    let p = c64(&mut g, 0.0);
    let n = c64(&mut g, -0.0);
    let a = bin(&mut g, BinaryOp::Max, x, p);
    let b = bin(&mut g, BinaryOp::Max, x, n);
    g.outputs = vec![a, b];
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "const", "const", "max", "max"]);
    // max(-0.0, +0.0) is the first operand: the two results differ in sign.
    let out = run(&s, &[Tensor::scalar_f64(-0.0)]).unwrap();
    assert_eq!((f64_of(&out[0]).to_bits(), f64_of(&out[1]).to_bits()), ((-0.0f64).to_bits(), (-0.0f64).to_bits()));
    let out = run(&s, &[Tensor::scalar_f64(-1.0)]).unwrap();
    assert_eq!((f64_of(&out[0]).to_bits(), f64_of(&out[1]).to_bits()), (0.0f64.to_bits(), (-0.0f64).to_bits()));
}

#[test]
fn cse_merges_nan_constants_with_the_same_bits() {
    let mut g = Graph::new("nans");
    let x = x64(&mut g, 0);
    let a = c64(&mut g, NAN);
    let b = c64(&mut g, NAN);
    let c = c64(&mut g, -NAN);
    let xa = bin(&mut g, BinaryOp::Add, x, a);
    let xb = bin(&mut g, BinaryOp::Add, x, b);
    let xc = bin(&mut g, BinaryOp::Add, x, c);
    g.outputs = vec![xa, xb, xc];
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "const", "const", "add", "add"]);
}

#[test]
fn dce_removes_dead_nodes() {
    let mut g = Graph::new("dce");
    let x = x64(&mut g, 0);
    let unused = x64(&mut g, 1);
    let dead = un(&mut g, UnaryOp::Exp, x);
    let _dead2 = bin(&mut g, BinaryOp::Add, dead, unused);
    let y = un(&mut g, UnaryOp::Cos, x);
    let g = with_output(g, y);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "cos"]);
}

// ----- identities that always hold -----

/// `x op c` (or `c op x` when `const_first`) over a scalar input.
fn with_const(b: BinaryOp, c: f64, const_first: bool) -> Graph {
    let mut g = Graph::new(format!("{}_{c:?}", b.name()));
    let x = x64(&mut g, 0);
    let k = c64(&mut g, c);
    let y = if const_first { bin(&mut g, b, k, x) } else { bin(&mut g, b, x, k) };
    with_output(g, y)
}

#[test]
fn mul_by_one_is_the_operand() {
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Mul, 1.0, false))), ["input"]);
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Mul, 1.0, true))), ["input"]);
    // -1 is not 1.
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Mul, -1.0, false))), ["input", "const", "mul"]);
}

#[test]
fn div_by_one_is_the_operand() {
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Div, 1.0, false))), ["input"]);
    // 1 / x is not x.
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Div, 1.0, true))), ["input", "const", "div"]);
}

#[test]
fn add_negative_zero_is_the_operand() {
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Add, -0.0, false))), ["input"]);
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Add, -0.0, true))), ["input"]);
}

#[test]
fn sub_zero_is_the_operand() {
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Sub, 0.0, false))), ["input"]);
    // 0 - x is not x (nor is x - -0, which turns -0 into +0).
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Sub, 0.0, true))), ["input", "const", "sub"]);
    assert_eq!(ops(&simplified(&with_const(BinaryOp::Sub, -0.0, false))), ["input", "const", "sub"]);
}

#[test]
fn identities_see_through_broadcast_constants() {
    let mut g = Graph::new("splat");
    let x = input(&mut g, 0, DType::F64, &[2, 3]);
    let one = c64(&mut g, 1.0);
    let ones = add(&mut g, Op::Broadcast { shape: vec![2, 3] }, &[one]);
    let nz = c64(&mut g, -0.0);
    let nz = add(&mut g, Op::Broadcast { shape: vec![3] }, &[nz]);
    let nz = add(&mut g, Op::Broadcast { shape: vec![2, 3] }, &[nz]);
    let a = bin(&mut g, BinaryOp::Mul, ones, x);
    let b = bin(&mut g, BinaryOp::Add, a, nz);
    let c = bin(&mut g, BinaryOp::Div, b, ones);
    let g = with_output(g, c);
    assert_eq!(ops(&simplified(&g)), ["input"]);
}

#[test]
fn a_constant_that_is_not_a_splat_is_no_identity() {
    let mut g = Graph::new("mixed");
    let x = input(&mut g, 0, DType::F64, &[2]);
    let c = konst(&mut g, Tensor::from_f64s(DType::F64, vec![2], &[1.0, 2.0]).unwrap());
    let y = bin(&mut g, BinaryOp::Mul, x, c);
    let g = with_output(g, y);
    assert_eq!(ops(&simplified(&g)), ["input", "const", "mul"]);
}

// ----- x + 0.0: only where x cannot be -0.0 -----

#[test]
fn add_zero_stays_for_an_input() {
    for const_first in [false, true] {
        let g = with_const(BinaryOp::Add, 0.0, const_first);
        let s = simplified(&g);
        assert_eq!(s.len(), 3, "x + 0.0 must stay");
        // Why: -0.0 + 0.0 is +0.0, not the operand.
        let out = run(&s, &[Tensor::scalar_f64(-0.0)]).unwrap();
        assert_eq!(f64_of(&out[0]).to_bits(), 0.0f64.to_bits());
    }
}

/// `f(convert(i)) + 0.0` for an `i64` input `i`: `convert` from `i64` is finite and never `-0.0`.
fn plus_zero_of(u: UnaryOp) -> Graph {
    let mut g = Graph::new(format!("{}_plus_zero", u.name()));
    let i = input(&mut g, 0, DType::I64, &[]);
    let y = add(&mut g, Op::Convert { to: DType::F64 }, &[i]);
    let e = un(&mut g, u, y);
    let z = c64(&mut g, 0.0);
    let s = bin(&mut g, BinaryOp::Add, e, z);
    with_output(g, s)
}

#[test]
fn add_zero_goes_where_the_operand_cannot_be_negative_zero() {
    for u in [UnaryOp::Exp, UnaryOp::Sigmoid, UnaryOp::Abs, UnaryOp::Relu] {
        let s = simplified(&plus_zero_of(u));
        assert_eq!(ops(&s), ["input", "convert", u.name()], "{} + 0.0", u.name());
    }
    // -x or floor(x) can be -0.0, so the addition stays.
    for u in [UnaryOp::Neg, UnaryOp::Ceil, UnaryOp::Sin] {
        let s = simplified(&plus_zero_of(u));
        assert_eq!(s.len(), 5, "{} + 0.0 must stay", u.name());
    }
}

#[test]
fn add_zero_to_a_constant_folds() {
    let mut g = Graph::new("const_plus_zero");
    let c = c64(&mut g, -0.0);
    let z = c64(&mut g, 0.0);
    let s = bin(&mut g, BinaryOp::Add, c, z);
    let g = with_output(g, s);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["const"]);
    assert_eq!(f64_of(&run(&s, &[]).unwrap()[0]).to_bits(), 0.0f64.to_bits());
}

#[test]
fn add_zero_of_exp_of_an_input_keeps_its_value() {
    // exp never gives -0.0, but the facts also exclude NaN (exp(NaN) + 0.0 is NaN, with the same
    // bits); whichever way the simplifier decides, the values must agree.
    let mut g = Graph::new("exp_plus_zero");
    let x = x64(&mut g, 0);
    let e = un(&mut g, UnaryOp::Exp, x);
    let z = c64(&mut g, 0.0);
    let s = bin(&mut g, BinaryOp::Add, e, z);
    let g = with_output(g, s);
    simplified(&g);
}

// ----- x * 0.0: only where x is finite and not negative -----

#[test]
fn mul_zero_stays_for_an_input() {
    for const_first in [false, true] {
        let g = with_const(BinaryOp::Mul, 0.0, const_first);
        let s = simplified(&g);
        assert_eq!(s.len(), 3, "x * 0.0 must stay");
        let at = |v: f64| f64_of(&run(&s, &[Tensor::scalar_f64(v)]).unwrap()[0]);
        assert!(at(INF).is_nan(), "inf * 0 is NaN");
        assert_eq!(at(-1.0).to_bits(), (-0.0f64).to_bits(), "-1 * 0 is -0");
    }
}

#[test]
fn mul_zero_of_sigmoid_of_an_input_stays() {
    // sigmoid(NaN) is NaN, and NaN * 0 is NaN: the facts know sigmoid's result is finite only
    // where its operand is.
    let mut g = Graph::new("sigmoid_times_zero");
    let x = x64(&mut g, 0);
    let e = un(&mut g, UnaryOp::Sigmoid, x);
    let z = c64(&mut g, 0.0);
    let s = bin(&mut g, BinaryOp::Mul, e, z);
    let g = with_output(g, s);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "sigmoid", "const", "mul"]);
    assert!(f64_of(&run(&s, &[Tensor::scalar_f64(NAN)]).unwrap()[0]).is_nan());
}

#[test]
fn mul_zero_goes_where_the_operand_is_finite_and_not_negative() {
    for (u, folds) in [(UnaryOp::Sigmoid, true), (UnaryOp::Abs, true), (UnaryOp::Relu, true), (UnaryOp::Exp, false), (UnaryOp::Sin, false)] {
        let mut g = Graph::new(format!("{}_times_zero", u.name()));
        let i = input(&mut g, 0, DType::I64, &[]);
        let y = add(&mut g, Op::Convert { to: DType::F64 }, &[i]);
        let e = un(&mut g, u, y);
        let z = c64(&mut g, 0.0);
        let s = bin(&mut g, BinaryOp::Mul, z, e);
        let g = with_output(g, s);
        let s = simplified(&g);
        if folds {
            assert_eq!(ops(&s), ["const"], "{}(y) * 0", u.name());
        } else {
            // exp of a finite value can overflow to inf; sin can be negative.
            assert_eq!(s.len(), 5, "{}(y) * 0 must stay", u.name());
        }
    }
}

#[test]
fn mul_zero_of_a_negative_zero_constant_is_kept_apart() {
    // x * -0.0 is never replaced by -0.0 (x = -1 gives +0.0).
    let s = simplified(&with_const(BinaryOp::Mul, -0.0, false));
    assert_eq!(s.len(), 3);
}

// ----- integer identities -----

#[test]
fn integer_add_and_mul_by_zero_go() {
    let mut g = Graph::new("ints");
    let x = input(&mut g, 0, DType::I64, &[3]);
    let z = konst(&mut g, Tensor::scalar_i64(0));
    let z = add(&mut g, Op::Broadcast { shape: vec![3] }, &[z]);
    let one = konst(&mut g, Tensor::scalar_i64(1));
    let one = add(&mut g, Op::Broadcast { shape: vec![3] }, &[one]);
    let a = bin(&mut g, BinaryOp::Add, z, x);
    let b = bin(&mut g, BinaryOp::Mul, a, one);
    let c = bin(&mut g, BinaryOp::Div, b, one);
    let d = bin(&mut g, BinaryOp::Sub, c, z);
    let zero = bin(&mut g, BinaryOp::Mul, x, z);
    g.outputs = vec![d, zero];
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "const", "broadcast"]);
}

// ----- negation and logic -----

#[test]
fn double_negation_cancels() {
    let mut g = Graph::new("negneg");
    let x = x64(&mut g, 0);
    let a = un(&mut g, UnaryOp::Neg, x);
    let b = un(&mut g, UnaryOp::Neg, a);
    let g = with_output(g, b);
    assert_eq!(ops(&simplified(&g)), ["input"]);
    // A triple negation is one.
    let mut g = Graph::new("negnegneg");
    let x = x64(&mut g, 0);
    let a = un(&mut g, UnaryOp::Neg, x);
    let b = un(&mut g, UnaryOp::Neg, a);
    let c = un(&mut g, UnaryOp::Neg, b);
    let g = with_output(g, c);
    assert_eq!(ops(&simplified(&g)), ["input", "neg"]);
}

#[test]
fn double_not_cancels() {
    let mut g = Graph::new("notnot");
    let x = input(&mut g, 0, DType::Bool, &[]);
    let a = un(&mut g, UnaryOp::Not, x);
    let b = un(&mut g, UnaryOp::Not, a);
    let g = with_output(g, b);
    assert_eq!(ops(&simplified(&g)), ["input"]);
}

#[test]
fn add_of_a_negation_is_a_subtraction() {
    let mut g = Graph::new("add_neg");
    let a = x64(&mut g, 0);
    let b = x64(&mut g, 1);
    let nb = un(&mut g, UnaryOp::Neg, b);
    let y = bin(&mut g, BinaryOp::Add, a, nb);
    let g = with_output(g, y);
    assert_eq!(ops(&simplified_ignoring_nan_sign(&g)), ["input", "input", "sub"]);
}

#[test]
fn sub_of_a_negation_is_an_addition() {
    let mut g = Graph::new("sub_neg");
    let a = x64(&mut g, 0);
    let b = x64(&mut g, 1);
    let nb = un(&mut g, UnaryOp::Neg, b);
    let y = bin(&mut g, BinaryOp::Sub, a, nb);
    let g = with_output(g, y);
    assert_eq!(ops(&simplified_ignoring_nan_sign(&g)), ["input", "input", "add"]);
}

/// As [`simplified`], but any NaN equals any NaN: for the `a + -b` rewrites, whose results
/// differ from the original only in the sign of a NaN (see `nan_sign_of_add_neg`).
fn simplified_ignoring_nan_sign(g: &Graph) -> Graph {
    verify(g).unwrap();
    let s = simplify(g);
    verify(&s).unwrap();
    let canon = |t: &Tensor| -> Vec<u64> { t.to_f64_vec().iter().map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() }).collect() };
    for args in samples(g) {
        let (want, got) = (run(g, &args).unwrap(), run(&s, &args).unwrap());
        assert_eq!(want.iter().map(canon).collect::<Vec<_>>(), got.iter().map(canon).collect::<Vec<_>>(), "{:?}", args.iter().map(|t| t.to_f64_vec()).collect::<Vec<_>>());
    }
    s
}

#[test]
fn logic_with_constants() {
    let cases: [(BinaryOp, bool, bool); 8] = [
        (BinaryOp::And, true, false),
        (BinaryOp::And, true, true),
        (BinaryOp::Or, false, false),
        (BinaryOp::Or, false, true),
        (BinaryOp::Xor, false, false),
        (BinaryOp::Xor, false, true),
        // Not identities: and with false, or with true, xor with true.
        (BinaryOp::And, false, false),
        (BinaryOp::Xor, true, true),
    ];
    for (k, (op, c, const_first)) in cases.into_iter().enumerate() {
        let mut g = Graph::new("logic");
        let x = input(&mut g, 0, DType::Bool, &[3]);
        let c = cbool(&mut g, c);
        let c = add(&mut g, Op::Broadcast { shape: vec![3] }, &[c]);
        let y = if const_first { bin(&mut g, op, c, x) } else { bin(&mut g, op, x, c) };
        let g = with_output(g, y);
        let s = simplified(&g);
        if k < 6 {
            assert_eq!(ops(&s), ["input"], "{} with {c:?}", op.name());
        } else {
            assert!(s.len() >= 2, "{} with a non-identity must not become its operand", op.name());
        }
    }
}

/// `x & x` and `x | x` equal `x` but stay: `rgrad` runs on simplified graphs and its derivative
/// is compositional, 0 for both, where `x`'s is `dz` (ORACLES.md R2). `x ⊕ x → 0` keeps R (0).
#[test]
fn and_or_of_a_value_with_itself_stay_for_the_z2_derivative() {
    for op in [BinaryOp::And, BinaryOp::Or] {
        let mut g = Graph::new("idem");
        let x = input(&mut g, 0, DType::Bool, &[3]);
        let y = bin(&mut g, op, x, x);
        let g = with_output(g, y);
        assert_eq!(ops(&simplified(&g)), ["input", op.name()], "{}", op.name());
    }
    let mut g = Graph::new("xor_self");
    let x = input(&mut g, 0, DType::Bool, &[3]);
    let y = bin(&mut g, BinaryOp::Xor, x, x);
    let g = with_output(g, y);
    assert!(!ops(&simplified(&g)).contains(&"xor"));
}

// ----- select -----

#[test]
fn select_of_equal_branches_is_the_branch() {
    let mut g = Graph::new("select_same");
    let x = x64(&mut g, 0);
    let y = x64(&mut g, 1);
    let c = bin(&mut g, BinaryOp::Lt, x, y);
    let s = un(&mut g, UnaryOp::Sin, x);
    let s2 = un(&mut g, UnaryOp::Sin, x);
    let r = add(&mut g, Op::Select, &[c, s, s2]);
    let g = with_output(g, r);
    assert_eq!(ops(&simplified(&g)), ["input", "sin"]);
}

#[test]
fn select_with_a_constant_condition_is_one_branch() {
    for (cond, want) in [(true, "sin"), (false, "cos")] {
        let mut g = Graph::new("select_const");
        let x = input(&mut g, 0, DType::F64, &[2, 2]);
        let c = cbool(&mut g, cond);
        let c = add(&mut g, Op::Broadcast { shape: vec![2] }, &[c]);
        let c = add(&mut g, Op::Reshape { shape: vec![2, 1] }, &[c]);
        let c = add(&mut g, Op::Broadcast { shape: vec![2, 2] }, &[c]);
        let a = un(&mut g, UnaryOp::Sin, x);
        let b = un(&mut g, UnaryOp::Cos, x);
        let r = add(&mut g, Op::Select, &[c, a, b]);
        let g = with_output(g, r);
        assert_eq!(ops(&simplified(&g)), ["input", want]);
    }
    // A constant condition that is not a splat stays.
    let mut g = Graph::new("select_mixed");
    let x = input(&mut g, 0, DType::F64, &[2]);
    let c = konst(&mut g, Tensor::new(vec![2], Buffer::Bool(vec![true, false])).unwrap());
    let a = un(&mut g, UnaryOp::Sin, x);
    let b = un(&mut g, UnaryOp::Cos, x);
    let r = add(&mut g, Op::Select, &[c, a, b]);
    let g = with_output(g, r);
    assert_eq!(simplified(&g).len(), 5);
}

// ----- powi -----

#[test]
fn powi_one_is_the_operand() {
    let mut g = Graph::new("powi1");
    let x = x64(&mut g, 0);
    let p = add(&mut g, Op::PowInt(1), &[x]);
    let g = with_output(g, p);
    assert_eq!(ops(&simplified(&g)), ["input"]);
}

#[test]
fn powi_zero_is_one_even_for_nan() {
    for shape in [vec![], vec![2, 3]] {
        let mut g = Graph::new("powi0");
        let x = input(&mut g, 0, DType::F64, &shape);
        let p = add(&mut g, Op::PowInt(0), &[x]);
        let g = with_output(g, p);
        let s = simplified(&g);
        assert_eq!(ops(&s), if shape.is_empty() { &["const"][..] } else { &["const", "broadcast"][..] });
        let out = run(&s, &[]).unwrap();
        assert_eq!(out[0].shape(), &shape[..]);
        assert!(out[0].to_f64_vec().iter().all(|&v| v.to_bits() == 1f64.to_bits()));
    }
}

#[test]
fn powi_minus_one_stays() {
    let mut g = Graph::new("powi_m1");
    let x = x64(&mut g, 0);
    let p = add(&mut g, Op::PowInt(-1), &[x]);
    let g = with_output(g, p);
    assert_eq!(ops(&simplified(&g)), ["input", "powi"]);
}

// ----- layout -----

#[test]
fn reshape_of_a_reshape_is_one_reshape() {
    let mut g = Graph::new("reshape2");
    let x = input(&mut g, 0, DType::F64, &[2, 3]);
    let a = add(&mut g, Op::Reshape { shape: vec![3, 2] }, &[x]);
    let b = add(&mut g, Op::Reshape { shape: vec![6] }, &[a]);
    let g = with_output(g, b);
    let s = simplified(&g);
    assert_eq!(ops(&s), ["input", "reshape"]);
    // And back to the original shape is nothing.
    let mut g = Graph::new("reshape_back");
    let x = input(&mut g, 0, DType::F64, &[2, 3]);
    let a = add(&mut g, Op::Reshape { shape: vec![6] }, &[x]);
    let b = add(&mut g, Op::Reshape { shape: vec![2, 3] }, &[a]);
    let g = with_output(g, b);
    assert_eq!(ops(&simplified(&g)), ["input"]);
}

#[test]
fn identity_layout_ops_go() {
    let mut g = Graph::new("identities");
    let x = input(&mut g, 0, DType::F64, &[2, 3]);
    let a = add(&mut g, Op::Transpose { perm: vec![0, 1] }, &[x]);
    let b = add(&mut g, Op::Slice { starts: vec![0, 0], ends: vec![2, 3] }, &[a]);
    let c = add(&mut g, Op::Reshape { shape: vec![2, 3] }, &[b]);
    let d = add(&mut g, Op::Broadcast { shape: vec![2, 3] }, &[c]);
    let e = add(&mut g, Op::Concat { axis: 1 }, &[d]);
    let g = with_output(g, e);
    assert_eq!(ops(&simplified(&g)), ["input"]);
}

#[test]
fn layout_ops_that_move_elements_stay() {
    let mut g = Graph::new("moves");
    let x = input(&mut g, 0, DType::F64, &[2, 3]);
    let a = add(&mut g, Op::Transpose { perm: vec![1, 0] }, &[x]);
    let b = add(&mut g, Op::Slice { starts: vec![1, 0], ends: vec![3, 2] }, &[a]);
    let c = add(&mut g, Op::Broadcast { shape: vec![4, 2, 2] }, &[b]);
    let d = add(&mut g, Op::Reduce { op: ReduceOp::Sum, axes: vec![0] }, &[c]);
    let g = with_output(g, d);
    assert_eq!(ops(&simplified(&g)), ["input", "transpose", "slice", "broadcast", "reduce_sum"]);
}

// ----- bugs in the facts (`Facts`) -----

#[test]
fn convert_to_f32_can_overflow() {
    let mut g = Graph::new("f32_overflow");
    let x = x64(&mut g, 0);
    let zero = c64(&mut g, 0.0);
    let c = bin(&mut g, BinaryOp::Gt, x, zero);
    let big = c64(&mut g, 1e300);
    let one = c64(&mut g, 1.0);
    let y = add(&mut g, Op::Select, &[c, big, one]);
    let y = add(&mut g, Op::Convert { to: DType::F32 }, &[y]);
    let z = konst(&mut g, Tensor::scalar_f32(0.0));
    let r = bin(&mut g, BinaryOp::Mul, y, z);
    let g = with_output(g, r);
    simplified(&g);
}

#[test]
fn convert_to_f32_can_underflow_to_negative_zero() {
    let mut g = Graph::new("f32_underflow");
    let x = x64(&mut g, 0);
    let zero = c64(&mut g, 0.0);
    let c = bin(&mut g, BinaryOp::Gt, x, zero);
    let tiny = c64(&mut g, -1e-300);
    let one = c64(&mut g, 1.0);
    let y = add(&mut g, Op::Select, &[c, tiny, one]);
    let y = add(&mut g, Op::Convert { to: DType::F32 }, &[y]);
    let z = konst(&mut g, Tensor::scalar_f32(0.0));
    let r = bin(&mut g, BinaryOp::Add, y, z);
    let g = with_output(g, r);
    simplified(&g);
}

#[test]
fn abs_of_i64_min_is_negative() {
    let mut g = Graph::new("abs_min");
    let x = x64(&mut g, 0);
    let zero = c64(&mut g, 0.0);
    let c = bin(&mut g, BinaryOp::Gt, x, zero);
    let min = konst(&mut g, Tensor::scalar_i64(i64::MIN));
    let one = konst(&mut g, Tensor::scalar_i64(1));
    let i = add(&mut g, Op::Select, &[c, min, one]);
    let a = un(&mut g, UnaryOp::Abs, i);
    let f = add(&mut g, Op::Convert { to: DType::F64 }, &[a]);
    let r = bin(&mut g, BinaryOp::Mul, f, zero);
    let g = with_output(g, r);
    simplified(&g);
}

/// Once a bug: `Const::splat` read element 0 before checking the length, and panicked.
#[test]
fn empty_constant_operand() {
    let mut g = Graph::new("empty");
    let x = input(&mut g, 0, DType::F64, &[0]);
    let c = konst(&mut g, Tensor::from_f64s(DType::F64, vec![0], &[]).unwrap());
    let r = bin(&mut g, BinaryOp::Add, x, c);
    let g = with_output(g, r);
    let s = simplified(&g);
    assert_eq!(run(&s, &[Tensor::from_f64s(DType::F64, vec![0], &[]).unwrap()]).unwrap()[0].len(), 0);
}
