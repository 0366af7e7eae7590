//! The reference interpreter against independent computations written here with std and
//! libm directly: every op, for every element type it takes, on edge values (±0, ±inf, NaN,
//! subnormals, huge arguments), plus property tests for elementwise binary ops, broadcasting
//! and reductions. Every single-op case runs both through `interp::run` on a graph built with
//! `Graph::add` and through `interp::eval_op`, and checks that the two agree bit for bit.

mod common;

use std::sync::Arc;

use common::bits;
use gradc_compiler::interp::{eval_op, run, type_of, EvalError, Inputs};
use gradc_compiler::ir::op::Const;
use gradc_compiler::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type, UnaryOp};
use gradc_runtime::tensor::{Buffer, DType, Tensor};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::F64(v.to_vec())).unwrap()
}
fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::F32(v.to_vec())).unwrap()
}
fn i64s(shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::I64(v.to_vec())).unwrap()
}
fn bools(shape: &[usize], v: &[bool]) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::Bool(v.to_vec())).unwrap()
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// An op with its reference function.
type Rule<T, U> = (BinaryOp, fn(T, T) -> U);
/// A reduction with its identity and reference combining function.
type Fold<T> = (ReduceOp, T, fn(T, T) -> T);

fn input(g: &mut Graph, source: Source, t: &Tensor) -> NodeId {
    g.add(Op::Input { source, ty: type_of(t) }, &[]).unwrap()
}

/// `op` on `args` through `run` (a graph of argument inputs and the op) and through
/// `eval_op`; the two must agree exactly (errors too).
fn eval(op: Op, args: &[Tensor]) -> Result<Tensor, EvalError> {
    let mut g = Graph::new("t");
    let ins: Vec<NodeId> = args.iter().enumerate().map(|(k, t)| input(&mut g, Source::Arg(k as u32), t)).collect();
    let n = g.add(op.clone(), &ins).unwrap_or_else(|e| panic!("{e}"));
    g.outputs = vec![n];
    let via_run = run(&g, &Inputs { args, params: &[], data: &[] })
        .map(|mut v| {
            assert_eq!(v.len(), 1);
            v.pop().unwrap()
        })
        .map_err(|(id, e)| {
            assert_eq!(id, n);
            e
        });
    let refs: Vec<&Tensor> = args.iter().collect();
    let direct = eval_op(&op, g.ty(n), &refs);
    match (&via_run, &direct) {
        (Ok(a), Ok(b)) => {
            assert_eq!(bits(a), bits(b), "run and eval_op differ");
            assert_eq!(type_of(a), *g.ty(n), "the result has the node's type");
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("run gave {via_run:?}, eval_op gave {direct:?}"),
    }
    via_run
}

fn ok(op: Op, args: &[Tensor]) -> Tensor {
    eval(op, args).unwrap_or_else(|e| panic!("{e}"))
}

fn check_f64(t: &Tensor, shape: &[usize], want: &[f64], what: &str) {
    assert_eq!(t.shape(), shape, "{what}: shape");
    let got = t.as_f64().unwrap_or_else(|| panic!("{what}: not f64"));
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(same_f64(g, w), "{what}: element {i}: got {g:e} ({:#x}), want {w:e} ({:#x})", g.to_bits(), w.to_bits());
    }
}

fn check_f32(t: &Tensor, shape: &[usize], want: &[f32], what: &str) {
    assert_eq!(t.shape(), shape, "{what}: shape");
    let got = t.as_f32().unwrap_or_else(|| panic!("{what}: not f32"));
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(same_f32(g, w), "{what}: element {i}: got {g:e} ({:#x}), want {w:e} ({:#x})", g.to_bits(), w.to_bits());
    }
}

fn check_i64(t: &Tensor, shape: &[usize], want: &[i64], what: &str) {
    assert_eq!(t.shape(), shape, "{what}: shape");
    assert_eq!(t.as_i64().unwrap_or_else(|| panic!("{what}: not i64")), want, "{what}");
}

fn check_bool(t: &Tensor, shape: &[usize], want: &[bool], what: &str) {
    assert_eq!(t.shape(), shape, "{what}: shape");
    assert_eq!(t.as_bool().unwrap_or_else(|| panic!("{what}: not bool")), want, "{what}");
}

/// Row-major multi-index of a flat index (computed with div/mod, independently of the
/// interpreter's stride walks).
fn unflatten(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for ax in (0..shape.len()).rev() {
        idx[ax] = flat % shape[ax];
        flat /= shape[ax];
    }
    idx
}

fn flatten(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// `0, 1, 2, …` as f64.
fn count(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64).collect()
}

const F64_EDGES: &[f64] = &[
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 3.0, 2.0, 1e-310, -1e-310, 5e-324,
    f64::MIN_POSITIVE, f64::EPSILON, 1e300, -1e300, f64::MAX, f64::MIN, 709.0, 710.0, -745.0,
    -746.0, 40.0, -40.0, 1e17, std::f64::consts::PI, f64::INFINITY, f64::NEG_INFINITY, f64::NAN,
];

const F32_EDGES: &[f32] = &[
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 3.0, 2.0, 1e-40, -1e-40, 1e-45,
    f32::MIN_POSITIVE, f32::EPSILON, 1e30, -1e30, f32::MAX, f32::MIN, 88.0, 89.0, -103.0, -104.0,
    20.0, -20.0, 1e9, std::f32::consts::PI, f32::INFINITY, f32::NEG_INFINITY, f32::NAN,
];

const I64_EDGES: &[i64] = &[0, 1, -1, 2, -2, 3, -7, 7, 100, i64::MAX, i64::MIN, i64::MIN + 1, i64::MAX - 1];

// ---------------------------------------------------------------------------------------
// Independent scalar references
// ---------------------------------------------------------------------------------------

macro_rules! float_refs {
    ($t:ident, $unary:ident, $binary:ident, $powi:ident, $erf:path) => {
        fn $unary(op: UnaryOp, x: $t) -> $t {
            use UnaryOp::*;
            match op {
                Neg => -x,
                Abs => x.abs(),
                Exp => x.exp(),
                Log => x.ln(),
                Sin => x.sin(),
                Cos => x.cos(),
                Tan => x.tan(),
                Tanh => x.tanh(),
                Sqrt => x.sqrt(),
                Floor => x.floor(),
                Ceil => x.ceil(),
                Erf => $erf(x),
                Sigmoid if x >= 0.0 => 1.0 / (1.0 + (-x).exp()),
                Sigmoid => x.exp() / (1.0 + x.exp()),
                Relu if x.is_nan() => x,
                Relu => if x > 0.0 { x } else { 0.0 },
                Softplus if x.is_nan() => x,
                Softplus if x > 0.0 => x + (-x).exp().ln_1p(),
                Softplus => x.exp().ln_1p(),
                Gelu => 0.5 * x * (1.0 + $erf(x / std::$t::consts::SQRT_2)),
                Sign if x > 0.0 => 1.0,
                Sign if x < 0.0 => -1.0,
                Sign => x,
                Not => unreachable!(),
            }
        }

        /// Arithmetic as a float result, comparisons as 0/1.
        fn $binary(op: BinaryOp, a: $t, b: $t) -> $t {
            use BinaryOp::*;
            let nan = a.is_nan() || b.is_nan();
            match op {
                Add => a + b,
                Sub => a - b,
                Mul => a * b,
                Div => a / b,
                Rem => a % b,
                Pow => a.powf(b),
                Max if nan => <$t>::NAN,
                Max => if b > a { b } else { a },
                Min if nan => <$t>::NAN,
                Min => if b < a { b } else { a },
                Eq => (a == b) as u8 as $t,
                Ne => (a != b) as u8 as $t,
                Lt => (a < b) as u8 as $t,
                Le => (a <= b) as u8 as $t,
                Gt => (a > b) as u8 as $t,
                Ge => (a >= b) as u8 as $t,
                And | Or | Xor => unreachable!(),
            }
        }

        /// Square-and-multiply with the squares precomputed: the product, in order of
        /// increasing bit, of `x^(2^i)` over the set bits `i` of `|n|`.
        fn $powi(x: $t, n: i64) -> $t {
            let e = n.unsigned_abs();
            let mut squares = vec![x];
            for i in 1..64 {
                let s = squares[i - 1];
                squares.push(s * s);
            }
            let mut acc: $t = 1.0;
            for (i, s) in squares.iter().enumerate() {
                if (e >> i) & 1 == 1 {
                    acc *= *s;
                }
            }
            if n < 0 { 1.0 / acc } else { acc }
        }
    };
}

float_refs!(f64, ref_unary_f64, ref_binary_f64, ref_powi_f64, libm::erf);
float_refs!(f32, ref_unary_f32, ref_binary_f32, ref_powi_f32, libm::erff);

// ---------------------------------------------------------------------------------------
// Unary
// ---------------------------------------------------------------------------------------

#[test]
fn unary_f64_matches_std_on_edge_values() {
    let x = f64s(&[F64_EDGES.len()], F64_EDGES);
    let mut tested = 0;
    for op in UnaryOp::ALL {
        if op == UnaryOp::Not {
            continue;
        }
        let want: Vec<f64> = F64_EDGES.iter().map(|&e| ref_unary_f64(op, e)).collect();
        check_f64(&ok(Op::Unary(op), std::slice::from_ref(&x)), &[F64_EDGES.len()], &want, op.name());
        tested += 1;
    }
    assert_eq!(tested, 17);
}

#[test]
fn unary_f32_matches_std_on_edge_values() {
    let x = f32s(&[F32_EDGES.len()], F32_EDGES);
    for op in UnaryOp::ALL {
        if op == UnaryOp::Not {
            continue;
        }
        let want: Vec<f32> = F32_EDGES.iter().map(|&e| ref_unary_f32(op, e)).collect();
        check_f32(&ok(Op::Unary(op), std::slice::from_ref(&x)), &[F32_EDGES.len()], &want, op.name());
    }
}

#[test]
fn unary_special_values() {
    let one = |op, x: f64| ok(Op::Unary(op), &[Tensor::scalar_f64(x)]).as_f64().unwrap()[0];
    use UnaryOp::*;
    assert_eq!(one(Relu, -0.0).to_bits(), 0.0f64.to_bits(), "relu(-0) is +0");
    assert_eq!(one(Relu, -3.0).to_bits(), 0.0f64.to_bits());
    assert!(one(Relu, f64::NAN).is_nan());
    assert_eq!(one(Sign, -0.0).to_bits(), (-0.0f64).to_bits(), "sign keeps -0");
    assert!(one(Sign, f64::NAN).is_nan());
    assert_eq!(one(Sign, -1e-310), -1.0);
    assert_eq!(one(Sigmoid, 0.0), 0.5);
    assert_eq!(one(Sigmoid, -0.0), 0.5);
    assert_eq!(one(Sigmoid, f64::INFINITY), 1.0);
    assert_eq!(one(Sigmoid, f64::NEG_INFINITY), 0.0);
    assert!(one(Sigmoid, -700.0) > 0.0, "the stable form does not underflow early");
    assert!(one(Sigmoid, f64::NAN).is_nan());
    assert_eq!(one(Softplus, 0.0), std::f64::consts::LN_2);
    assert_eq!(one(Softplus, -0.0), std::f64::consts::LN_2);
    assert_eq!(one(Softplus, 1000.0), 1000.0, "no overflow for large x");
    assert_eq!(one(Softplus, f64::INFINITY), f64::INFINITY);
    assert_eq!(one(Softplus, f64::NEG_INFINITY), 0.0);
    assert!(one(Softplus, f64::NAN).is_nan());
    assert_eq!(one(Gelu, 0.0), 0.0);
    assert_eq!(one(Gelu, 10.0), 10.0);
    assert!(one(Gelu, f64::NAN).is_nan());
    // The exact erf form at -inf is (-inf) * 0: NaN, as in PyTorch.
    assert!(one(Gelu, f64::NEG_INFINITY).is_nan());
    // Known values (to a few ulps; this guards the formulas themselves).
    let near = |a: f64, b: f64| (a - b).abs() <= 4.0 * f64::EPSILON * b.abs();
    assert!(near(one(Erf, 1.0), 0.842_700_792_949_714_9));
    assert!(near(one(Gelu, 1.0), 0.841_344_746_068_542_9));
    assert!(near(one(Softplus, 1.0), 1.313_261_687_518_222_8));
    assert!(near(one(Sigmoid, -1.0), 0.268_941_421_369_995_1));
    assert_eq!(one(Erf, f64::INFINITY), 1.0);
    assert_eq!(one(Erf, -0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(one(Log, 0.0), f64::NEG_INFINITY);
    assert!(one(Log, -1.0).is_nan());
    assert!(one(Sqrt, -1.0).is_nan());
    assert_eq!(one(Sqrt, -0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(one(Floor, -0.5), -1.0);
    assert_eq!(one(Ceil, -0.5).to_bits(), (-0.0f64).to_bits());
    assert_eq!(one(Exp, 710.0), f64::INFINITY);
    assert_eq!(one(Exp, -746.0), 0.0);
    assert_eq!(one(Abs, -0.0).to_bits(), 0.0f64.to_bits());
    let g32 = ok(Op::Unary(Gelu), &[Tensor::scalar_f32(1.0)]).as_f32().unwrap()[0];
    assert!((g32 - 0.841_344_7).abs() <= 2.0 * f32::EPSILON);
}

#[test]
fn unary_i64_wraps() {
    let x = i64s(&[I64_EDGES.len()], I64_EDGES);
    let neg: Vec<i64> = I64_EDGES.iter().map(|&v| v.wrapping_neg()).collect();
    let abs: Vec<i64> = I64_EDGES.iter().map(|&v| if v < 0 { 0i64.wrapping_sub(v) } else { v }).collect();
    let sign: Vec<i64> = I64_EDGES.iter().map(|&v| (v > 0) as i64 - (v < 0) as i64).collect();
    let n = I64_EDGES.len();
    check_i64(&ok(Op::Unary(UnaryOp::Neg), std::slice::from_ref(&x)), &[n], &neg, "neg");
    check_i64(&ok(Op::Unary(UnaryOp::Abs), std::slice::from_ref(&x)), &[n], &abs, "abs");
    check_i64(&ok(Op::Unary(UnaryOp::Sign), &[x]), &[n], &sign, "sign");
    let m = ok(Op::Unary(UnaryOp::Abs), &[Tensor::scalar_i64(i64::MIN)]);
    check_i64(&m, &[], &[i64::MIN], "abs(MIN) wraps");
}

#[test]
fn not_on_bool() {
    let r = ok(Op::Unary(UnaryOp::Not), &[bools(&[2], &[true, false])]);
    check_bool(&r, &[2], &[false, true], "not");
}

#[test]
fn unary_rejects_wrong_types() {
    let mut g = Graph::new("t");
    let x = input(&mut g, Source::Arg(0), &Tensor::scalar_i64(1));
    assert!(g.add(Op::Unary(UnaryOp::Exp), &[x]).is_err());
    assert!(g.add(Op::Unary(UnaryOp::Not), &[x]).is_err());
}

// ---------------------------------------------------------------------------------------
// Binary
// ---------------------------------------------------------------------------------------

fn float_binops() -> Vec<BinaryOp> {
    BinaryOp::ALL.into_iter().filter(|op| !matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor)).collect()
}

/// All float binary ops on the pairs `(a[i], b[i])` in one graph with one output per op,
/// checked against the references.
fn check_binary_f64(a: &[f64], b: &[f64]) {
    let n = a.len();
    let (ta, tb) = (f64s(&[n], a), f64s(&[n], b));
    let mut g = Graph::new("binary");
    let (x, y) = (input(&mut g, Source::Arg(0), &ta), input(&mut g, Source::Arg(1), &tb));
    let ops = float_binops();
    for &op in &ops {
        let id = g.add(Op::Binary(op), &[x, y]).unwrap();
        g.outputs.push(id);
    }
    let outs = run(&g, &Inputs { args: &[ta, tb], params: &[], data: &[] }).unwrap();
    for (op, out) in ops.iter().zip(&outs) {
        let want: Vec<f64> = a.iter().zip(b).map(|(&p, &q)| ref_binary_f64(*op, p, q)).collect();
        if op.is_comparison() {
            let want: Vec<bool> = want.iter().map(|&w| w == 1.0).collect();
            check_bool(out, &[n], &want, op.name());
        } else {
            check_f64(out, &[n], &want, op.name());
        }
    }
}

#[test]
fn binary_f64_on_all_pairs_of_edge_values() {
    let (mut a, mut b) = (vec![], vec![]);
    for &p in F64_EDGES {
        for &q in F64_EDGES {
            a.push(p);
            b.push(q);
        }
    }
    check_binary_f64(&a, &b);
}

#[test]
fn binary_f32_on_all_pairs_of_edge_values() {
    let (mut a, mut b) = (vec![], vec![]);
    for &p in F32_EDGES {
        for &q in F32_EDGES {
            a.push(p);
            b.push(q);
        }
    }
    let n = a.len();
    for op in float_binops() {
        let r = ok(Op::Binary(op), &[f32s(&[n], &a), f32s(&[n], &b)]);
        let want: Vec<f32> = a.iter().zip(&b).map(|(&p, &q)| ref_binary_f32(op, p, q)).collect();
        if op.is_comparison() {
            check_bool(&r, &[n], &want.iter().map(|&w| w == 1.0).collect::<Vec<_>>(), op.name());
        } else {
            check_f32(&r, &[n], &want, op.name());
        }
    }
}

#[test]
fn float_max_min_ties_keep_the_first_operand() {
    let a = f64s(&[4], &[0.0, -0.0, 1.0, f64::NAN]);
    let b = f64s(&[4], &[-0.0, 0.0, f64::NAN, 1.0]);
    let max = ok(Op::Binary(BinaryOp::Max), &[a.clone(), b.clone()]);
    check_f64(&max, &[4], &[0.0, -0.0, f64::NAN, f64::NAN], "max");
    let min = ok(Op::Binary(BinaryOp::Min), &[a, b]);
    check_f64(&min, &[4], &[0.0, -0.0, f64::NAN, f64::NAN], "min");
    let a = f32s(&[2], &[-0.0, 0.0]);
    let b = f32s(&[2], &[0.0, -0.0]);
    check_f32(&ok(Op::Binary(BinaryOp::Max), &[a.clone(), b.clone()]), &[2], &[-0.0, 0.0], "max f32");
    check_f32(&ok(Op::Binary(BinaryOp::Min), &[a, b]), &[2], &[-0.0, 0.0], "min f32");
    // Rem has the dividend's sign.
    let r = ok(Op::Binary(BinaryOp::Rem), &[f64s(&[2], &[-5.5, 5.5]), f64s(&[2], &[2.0, -2.0])]);
    check_f64(&r, &[2], &[-1.5, 1.5], "rem");
}

#[test]
fn binary_i64_wraps_and_truncates() {
    let (mut a, mut b) = (vec![], vec![]);
    for &p in I64_EDGES {
        for &q in I64_EDGES {
            a.push(p);
            b.push(q);
        }
    }
    let n = a.len();
    let (ta, tb) = (i64s(&[n], &a), i64s(&[n], &b));
    let pairs = || a.iter().zip(&b).map(|(&p, &q)| (p as i128, q as i128));
    // Wrapping computed through i128 and truncation of its low 64 bits.
    let wrap = |v: i128| v as i64;
    let arith: [Rule<i128, i128>; 5] = [
        (BinaryOp::Add, |p, q| p + q),
        (BinaryOp::Sub, |p, q| p - q),
        (BinaryOp::Mul, |p, q| p * q),
        (BinaryOp::Max, |p, q| if p > q { p } else { q }),
        (BinaryOp::Min, |p, q| if p < q { p } else { q }),
    ];
    for (op, f) in arith {
        let want: Vec<i64> = pairs().map(|(p, q)| wrap(f(p, q))).collect();
        check_i64(&ok(Op::Binary(op), &[ta.clone(), tb.clone()]), &[n], &want, op.name());
    }
    let cmps: [Rule<i128, bool>; 6] = [
        (BinaryOp::Eq, |p, q| p == q),
        (BinaryOp::Ne, |p, q| p != q),
        (BinaryOp::Lt, |p, q| p < q),
        (BinaryOp::Le, |p, q| p <= q),
        (BinaryOp::Gt, |p, q| p > q),
        (BinaryOp::Ge, |p, q| p >= q),
    ];
    for (op, f) in cmps {
        let want: Vec<bool> = pairs().map(|(p, q)| f(p, q)).collect();
        check_bool(&ok(Op::Binary(op), &[ta.clone(), tb.clone()]), &[n], &want, op.name());
    }
    // Division and remainder on the pairs with a non-zero divisor: truncation toward zero
    // (i128 division truncates too), wrapped; the remainder from the truncated quotient.
    let (mut p, mut q) = (vec![], vec![]);
    for (x, y) in a.iter().zip(&b).filter(|(_, y)| **y != 0) {
        p.push(*x);
        q.push(*y);
    }
    let m = p.len();
    let div: Vec<i64> = p.iter().zip(&q).map(|(&x, &y)| wrap(x as i128 / y as i128)).collect();
    let rem: Vec<i64> = p.iter().zip(&q).map(|(&x, &y)| wrap(x as i128 - (x as i128 / y as i128) * y as i128)).collect();
    check_i64(&ok(Op::Binary(BinaryOp::Div), &[i64s(&[m], &p), i64s(&[m], &q)]), &[m], &div, "div");
    check_i64(&ok(Op::Binary(BinaryOp::Rem), &[i64s(&[m], &p), i64s(&[m], &q)]), &[m], &rem, "rem");
    let r = ok(Op::Binary(BinaryOp::Div), &[i64s(&[3], &[i64::MIN, -7, 7]), i64s(&[3], &[-1, 2, -2])]);
    check_i64(&r, &[3], &[i64::MIN, -3, -3], "MIN / -1 wraps; truncation");
    let r = ok(Op::Binary(BinaryOp::Rem), &[i64s(&[3], &[i64::MIN, -7, 7]), i64s(&[3], &[-1, 2, -2])]);
    check_i64(&r, &[3], &[0, -1, 1], "rem has the dividend's sign");
}

#[test]
fn integer_division_by_zero_is_an_error() {
    for op in [BinaryOp::Div, BinaryOp::Rem] {
        let e = eval(Op::Binary(op), &[i64s(&[3], &[1, 2, 3]), i64s(&[3], &[1, 0, 1])]).unwrap_err();
        assert_eq!(e, EvalError::DivisionByZero);
        assert_eq!(e.to_string(), "integer division by zero");
    }
    // A float division by zero is IEEE.
    let r = ok(Op::Binary(BinaryOp::Div), &[f64s(&[3], &[1.0, -1.0, 0.0]), f64s(&[3], &[0.0, 0.0, 0.0])]);
    check_f64(&r, &[3], &[f64::INFINITY, f64::NEG_INFINITY, f64::NAN], "float div by 0");
}

#[test]
fn binary_bool_truth_tables() {
    let a = bools(&[4], &[false, false, true, true]);
    let b = bools(&[4], &[false, true, false, true]);
    let table: [(BinaryOp, [bool; 4]); 5] = [
        (BinaryOp::And, [false, false, false, true]),
        (BinaryOp::Or, [false, true, true, true]),
        (BinaryOp::Xor, [false, true, true, false]),
        (BinaryOp::Eq, [true, false, false, true]),
        (BinaryOp::Ne, [false, true, true, false]),
    ];
    for (op, want) in table {
        check_bool(&ok(Op::Binary(op), &[a.clone(), b.clone()]), &[4], &want, op.name());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn binary_f64_random_pairs(pairs in prop::collection::vec((prop::num::f64::ANY, prop::num::f64::ANY), 0..40)) {
        let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        check_binary_f64(&a, &b);
    }

    #[test]
    fn binary_f64_random_normal_pairs(pairs in prop::collection::vec((-1e3..1e3f64, -1e3..1e3f64), 1..40)) {
        let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        check_binary_f64(&a, &b);
    }
}

// ---------------------------------------------------------------------------------------
// PowInt, Select, Convert
// ---------------------------------------------------------------------------------------

#[test]
fn powi_is_binary_exponentiation() {
    let ns = [0, 1, 2, 3, 4, 5, 7, 10, 31, 64, 100, -1, -2, -3, -5, -10, i64::MAX, i64::MIN];
    let mut xs: Vec<f64> = F64_EDGES.to_vec();
    xs.extend([1.1, -1.1, 0.9, 1.0000001, -3.7, 10.0]);
    let x = f64s(&[xs.len()], &xs);
    for n in ns {
        let want: Vec<f64> = xs.iter().map(|&v| ref_powi_f64(v, n)).collect();
        check_f64(&ok(Op::PowInt(n), std::slice::from_ref(&x)), &[xs.len()], &want, &format!("powi {n}"));
    }
    let x32 = f32s(&[F32_EDGES.len()], F32_EDGES);
    for n in ns {
        let want: Vec<f32> = F32_EDGES.iter().map(|&v| ref_powi_f32(v, n)).collect();
        check_f32(&ok(Op::PowInt(n), std::slice::from_ref(&x32)), &[F32_EDGES.len()], &want, &format!("powi f32 {n}"));
    }
    let one = |x: f64, n| ok(Op::PowInt(n), &[Tensor::scalar_f64(x)]).as_f64().unwrap()[0];
    assert_eq!(one(f64::NAN, 0), 1.0, "x^0 is 1 even for NaN");
    assert_eq!(one(2.0, 10), 1024.0);
    assert_eq!(one(2.0, -2), 0.25);
    assert_eq!(one(0.0, -1), f64::INFINITY);
    assert_eq!(one(-0.0, -1), f64::NEG_INFINITY);
    assert_eq!(one(-0.0, 3).to_bits(), (-0.0f64).to_bits());
    assert_eq!(one(-1.0, i64::MIN), 1.0);
    assert_eq!(one(2.0, i64::MIN), 0.0);
    assert_eq!(one(-2.0, 3), -8.0);
    // x^4 is (x*x)*(x*x), which can differ from ((x*x)*x)*x.
    let x = 1.000_000_1f64;
    assert_eq!(one(x, 4), (x * x) * (x * x));
}

#[test]
fn select_picks_elementwise() {
    let c = bools(&[2, 2], &[true, false, false, true]);
    let a = f64s(&[2, 2], &[-0.0, f64::NAN, 1.0, 2.0]);
    let b = f64s(&[2, 2], &[0.0, 5.0, f64::NAN, 3.0]);
    check_f64(&ok(Op::Select, &[c.clone(), a, b]), &[2, 2], &[-0.0, 5.0, f64::NAN, 2.0], "select f64");
    let a = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let b = f32s(&[2, 2], &[5.0, 6.0, 7.0, 8.0]);
    check_f32(&ok(Op::Select, &[c.clone(), a, b]), &[2, 2], &[1.0, 6.0, 7.0, 4.0], "select f32");
    let a = i64s(&[2, 2], &[1, 2, 3, 4]);
    let b = i64s(&[2, 2], &[5, 6, 7, 8]);
    check_i64(&ok(Op::Select, &[c.clone(), a, b]), &[2, 2], &[1, 6, 7, 4], "select i64");
    let a = bools(&[2, 2], &[true; 4]);
    let b = bools(&[2, 2], &[false; 4]);
    check_bool(&ok(Op::Select, &[c.clone(), a, b]), &[2, 2], &[true, false, false, true], "select bool");
    let r = ok(Op::Select, &[Tensor::scalar_bool(false), Tensor::scalar_f64(1.0), Tensor::scalar_f64(2.0)]);
    check_f64(&r, &[], &[2.0], "select scalar");
}

#[test]
fn convert_edge_cases() {
    let conv = |t: &Tensor, to| ok(Op::Convert { to }, std::slice::from_ref(t));
    let xs = [2.9, -2.9, -0.0, 0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e20, -1e20, 9.3e18, 1e-310, 1e40];
    let x = f64s(&[xs.len()], &xs);
    let n = xs.len();
    check_i64(&conv(&x, DType::I64), &[n], &[2, -2, 0, 0, 0, i64::MAX, i64::MIN, i64::MAX, i64::MIN, i64::MAX, 0, i64::MAX], "f64 -> i64");
    check_bool(&conv(&x, DType::Bool), &[n], &[true, true, false, true, true, true, true, true, true, true, true, true], "f64 -> bool");
    let want32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
    check_f32(&conv(&x, DType::F32), &[n], &want32, "f64 -> f32");
    let specials = conv(&f64s(&[4], &[1e40, -1e40, 1e-310, -1e-50]), DType::F32);
    check_f32(&specials, &[4], &[f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0], "f64 -> f32 overflow, underflow");
    check_f32(&conv(&f64s(&[1], &[1.0 + f64::EPSILON]), DType::F32), &[1], &[1.0], "f64 -> f32 rounds");
    check_f64(&conv(&x, DType::F64), &[n], &xs, "f64 -> f64");

    let ys = [2.5f32, -2.5, -0.0, f32::NAN, f32::INFINITY, 1e-45, 3e38];
    let y = f32s(&[ys.len()], &ys);
    let m = ys.len();
    check_f64(&conv(&y, DType::F64), &[m], &ys.iter().map(|&v| v as f64).collect::<Vec<_>>(), "f32 -> f64");
    check_i64(&conv(&y, DType::I64), &[m], &[2, -2, 0, 0, i64::MAX, 0, i64::MAX], "f32 -> i64");
    check_bool(&conv(&y, DType::Bool), &[m], &[true, true, false, true, true, true, true], "f32 -> bool");
    check_f32(&conv(&y, DType::F32), &[m], &ys, "f32 -> f32");

    let zs = [0, 1, -1, (1 << 53) + 1, i64::MAX, i64::MIN, 16_777_217];
    let z = i64s(&[zs.len()], &zs);
    let k = zs.len();
    let want64 = [0.0, 1.0, -1.0, 2f64.powi(53), 2f64.powi(63), -(2f64.powi(63)), 16_777_217.0];
    check_f64(&conv(&z, DType::F64), &[k], &want64, "i64 -> f64 rounds to nearest even");
    let want32 = [0.0f32, 1.0, -1.0, 2f32.powi(53), 2f32.powi(63), -(2f32.powi(63)), 16_777_216.0];
    check_f32(&conv(&z, DType::F32), &[k], &want32, "i64 -> f32");
    check_bool(&conv(&z, DType::Bool), &[k], &[false, true, true, true, true, true, true], "i64 -> bool");
    check_i64(&conv(&z, DType::I64), &[k], &zs, "i64 -> i64");

    let b = bools(&[2], &[false, true]);
    check_f64(&conv(&b, DType::F64), &[2], &[0.0, 1.0], "bool -> f64");
    check_f32(&conv(&b, DType::F32), &[2], &[0.0, 1.0], "bool -> f32");
    check_i64(&conv(&b, DType::I64), &[2], &[0, 1], "bool -> i64");
    check_bool(&conv(&b, DType::Bool), &[2], &[false, true], "bool -> bool");
}

// ---------------------------------------------------------------------------------------
// Broadcast, Reshape, Transpose, Slice, Concat, Gather, Iota
// ---------------------------------------------------------------------------------------

/// The reference broadcast: each result index reads the operand at the index with leading
/// axes dropped and size-1 axes at 0.
fn ref_broadcast(x: &[f64], from: &[usize], to: &[usize]) -> Vec<f64> {
    let lead = to.len() - from.len();
    (0..to.iter().product::<usize>())
        .map(|o| {
            let idx = unflatten(o, to);
            let src: Vec<usize> = (0..from.len()).map(|j| if from[j] == 1 { 0 } else { idx[lead + j] }).collect();
            x[flatten(&src, from)]
        })
        .collect()
}

#[test]
fn broadcast_cases() {
    let cases: [(&[usize], &[usize]); 8] = [
        (&[], &[2, 3]),
        (&[3], &[2, 3]),
        (&[2, 1], &[2, 3]),
        (&[1], &[2, 3]),
        (&[1, 3], &[4, 1, 3]),
        (&[3, 1], &[2, 3, 4]),
        (&[2, 3], &[2, 3]),
        (&[1], &[0]),
    ];
    for (from, to) in cases {
        let n: usize = from.iter().product();
        let x = f64s(from, &count(n));
        let r = ok(Op::Broadcast { shape: to.to_vec() }, &[x]);
        check_f64(&r, to, &ref_broadcast(&count(n), from, to), &format!("{from:?} -> {to:?}"));
    }
    let r = ok(Op::Broadcast { shape: vec![2, 2] }, &[bools(&[2], &[true, false])]);
    check_bool(&r, &[2, 2], &[true, false, true, false], "bool");
    let r = ok(Op::Broadcast { shape: vec![3] }, &[Tensor::scalar_i64(-4)]);
    check_i64(&r, &[3], &[-4, -4, -4], "i64");
    let r = ok(Op::Broadcast { shape: vec![2] }, &[f32s(&[1], &[-0.0])]);
    check_f32(&r, &[2], &[-0.0, -0.0], "f32");
    // The rank cannot shrink, and a dimension other than 1 cannot change.
    let mut g = Graph::new("t");
    let x = input(&mut g, Source::Arg(0), &f64s(&[1], &[0.0]));
    assert!(g.add(Op::Broadcast { shape: vec![] }, &[x]).is_err());
    let y = input(&mut g, Source::Arg(1), &f64s(&[2], &[0.0, 0.0]));
    assert!(g.add(Op::Broadcast { shape: vec![3] }, &[y]).is_err());
}

fn broadcast_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (prop::collection::vec(0..4usize, 0..5), any::<u64>()).prop_map(|(to, bits)| {
        let keep = (bits as usize) % (to.len() + 1);
        let from = to[to.len() - keep..]
            .iter()
            .enumerate()
            .map(|(i, &d)| if bits >> (8 + i) & 1 == 1 { 1 } else { d })
            .collect();
        (from, to)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn broadcast_random_shapes((from, to) in broadcast_shapes()) {
        let n: usize = from.iter().product();
        let r = ok(Op::Broadcast { shape: to.clone() }, &[f64s(&from, &count(n))]);
        check_f64(&r, &to, &ref_broadcast(&count(n), &from, &to), &format!("{from:?} -> {to:?}"));
    }
}

#[test]
fn reshape_keeps_row_major_order() {
    let x = f64s(&[2, 3], &count(6));
    for shape in [vec![3, 2], vec![6], vec![1, 6, 1], vec![2, 3]] {
        check_f64(&ok(Op::Reshape { shape: shape.clone() }, std::slice::from_ref(&x)), &shape, &count(6), "reshape");
    }
    let r = ok(Op::Reshape { shape: vec![] }, &[i64s(&[1, 1], &[9])]);
    check_i64(&r, &[], &[9], "to a scalar");
    let r = ok(Op::Reshape { shape: vec![0] }, &[f32s(&[0, 5], &[])]);
    check_f32(&r, &[0], &[], "empty");
}

#[test]
fn transpose_every_permutation_of_rank_3() {
    let shape = [2, 3, 4];
    let x = f64s(&shape, &count(24));
    let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for perm in perms {
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let want: Vec<f64> = (0..24)
            .map(|o| {
                let idx = unflatten(o, &out_shape);
                let mut src = [0; 3];
                for (&p, &i) in perm.iter().zip(&idx) {
                    src[p] = i;
                }
                flatten(&src, &shape) as f64
            })
            .collect();
        let r = ok(Op::Transpose { perm: perm.to_vec() }, std::slice::from_ref(&x));
        check_f64(&r, &out_shape, &want, &format!("perm {perm:?}"));
    }
    let r = ok(Op::Transpose { perm: vec![1, 0] }, &[bools(&[2, 2], &[true, true, false, false])]);
    check_bool(&r, &[2, 2], &[true, false, true, false], "rank 2 bool");
    let r = ok(Op::Transpose { perm: vec![] }, &[Tensor::scalar_i64(3)]);
    check_i64(&r, &[], &[3], "rank 0");
    let r = ok(Op::Transpose { perm: vec![1, 0] }, &[f32s(&[0, 3], &[])]);
    check_f32(&r, &[3, 0], &[], "empty");
}

#[test]
fn slices() {
    let shape = [2, 3, 4];
    let x = f64s(&shape, &count(24));
    let cases: [([usize; 3], [usize; 3]); 5] = [
        ([0, 1, 1], [2, 3, 4]),
        ([1, 0, 0], [2, 3, 4]),
        ([0, 0, 0], [2, 3, 4]),
        ([0, 1, 3], [1, 2, 4]),
        ([1, 2, 2], [1, 3, 4]),
    ];
    for (starts, ends) in cases {
        let out_shape: Vec<usize> = (0..3).map(|i| ends[i] - starts[i]).collect();
        let n: usize = out_shape.iter().product();
        let want: Vec<f64> = (0..n)
            .map(|o| {
                let idx = unflatten(o, &out_shape);
                let src: Vec<usize> = (0..3).map(|i| idx[i] + starts[i]).collect();
                flatten(&src, &shape) as f64
            })
            .collect();
        let r = ok(Op::Slice { starts: starts.to_vec(), ends: ends.to_vec() }, std::slice::from_ref(&x));
        check_f64(&r, &out_shape, &want, &format!("{starts:?}..{ends:?}"));
    }
    let r = ok(Op::Slice { starts: vec![1], ends: vec![3] }, &[i64s(&[4], &[1, 2, 3, 4])]);
    check_i64(&r, &[2], &[2, 3], "rank 1");
    let r = ok(Op::Slice { starts: vec![], ends: vec![] }, &[Tensor::scalar_bool(true)]);
    check_bool(&r, &[], &[true], "rank 0");
    let r = ok(Op::Slice { starts: vec![2, 0], ends: vec![2, 2] }, &[f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0])]);
    check_f32(&r, &[0, 2], &[], "empty at the end");
}

#[test]
fn concat_of_three_operands_along_each_axis() {
    for axis in 0..3 {
        // Sizes 1, 0 and 2 along the axis; the other axes are 2 and 3.
        let shapes: Vec<Vec<usize>> = [1, 0, 2]
            .iter()
            .map(|&k| {
                let mut s = vec![2, 3];
                s.insert(axis, k);
                s
            })
            .collect();
        let tensors: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let n: usize = s.iter().product();
                f64s(s, &(0..n).map(|i| (100 * j + i) as f64).collect::<Vec<_>>())
            })
            .collect();
        let mut out_shape = vec![2, 3];
        out_shape.insert(axis, 3);
        // Reference: each result index belongs to the operand whose range along the axis
        // holds it.
        let want: Vec<f64> = (0..18)
            .map(|o| {
                let mut idx = unflatten(o, &out_shape);
                let (j, off) = if idx[axis] < 1 { (0, 0) } else { (2, 1) };
                idx[axis] -= off;
                tensors[j].data().get_f64(flatten(&idx, &shapes[j]))
            })
            .collect();
        let r = ok(Op::Concat { axis }, &tensors);
        check_f64(&r, &out_shape, &want, &format!("axis {axis}"));
    }
    let r = ok(Op::Concat { axis: 0 }, &[i64s(&[2], &[1, 2]), i64s(&[1], &[3]), i64s(&[2], &[4, 5])]);
    check_i64(&r, &[5], &[1, 2, 3, 4, 5], "i64");
    let r = ok(Op::Concat { axis: 1 }, &[bools(&[2, 1], &[true, false]), bools(&[2, 1], &[false, true])]);
    check_bool(&r, &[2, 2], &[true, false, false, true], "bool");
    let r = ok(Op::Concat { axis: 0 }, &[f32s(&[1], &[-0.0])]);
    check_f32(&r, &[1], &[-0.0], "one operand");
}

#[test]
fn gather_in_and_out_of_range() {
    let x = f64s(&[2, 3], &count(6));
    check_f64(&ok(Op::Gather { axis: 0 }, &[x.clone(), Tensor::scalar_i64(1)]), &[3], &[3.0, 4.0, 5.0], "row 1");
    check_f64(&ok(Op::Gather { axis: 1 }, &[x.clone(), Tensor::scalar_i64(2)]), &[2], &[2.0, 5.0], "column 2");
    check_f64(&ok(Op::Gather { axis: 1 }, &[x.clone(), Tensor::scalar_i64(0)]), &[2], &[0.0, 3.0], "column 0");
    for (axis, index, len) in [(0, 2, 2), (0, -1, 2), (1, 3, 3), (1, i64::MIN, 3), (1, i64::MAX, 3)] {
        let e = eval(Op::Gather { axis }, &[x.clone(), Tensor::scalar_i64(index)]).unwrap_err();
        assert_eq!(e, EvalError::IndexOutOfRange { index, len });
    }
    let e = EvalError::IndexOutOfRange { index: 7, len: 5 };
    assert_eq!(e.to_string(), "index 7 is out of range for an axis of length 5");
    let r = ok(Op::Gather { axis: 0 }, &[i64s(&[3], &[7, 8, 9]), Tensor::scalar_i64(2)]);
    check_i64(&r, &[], &[9], "rank 1 to a scalar");
    let r = ok(Op::Gather { axis: 2 }, &[f32s(&[1, 2, 2], &[1.0, 2.0, 3.0, 4.0]), Tensor::scalar_i64(1)]);
    check_f32(&r, &[1, 2], &[2.0, 4.0], "last axis of rank 3");
    let r = ok(Op::Gather { axis: 0 }, &[bools(&[2, 0], &[]), Tensor::scalar_i64(1)]);
    check_bool(&r, &[0], &[], "an empty row");
    let e = eval(Op::Gather { axis: 0 }, &[f64s(&[0], &[]), Tensor::scalar_i64(0)]).unwrap_err();
    assert_eq!(e, EvalError::IndexOutOfRange { index: 0, len: 0 });
}

#[test]
fn iota_along_each_axis() {
    let t = |dtype, shape: &[usize], axis| ok(Op::Iota { ty: Type::new(dtype, shape.to_vec()), axis }, &[]);
    check_f64(&t(DType::F64, &[2, 3], 0), &[2, 3], &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0], "axis 0");
    check_f64(&t(DType::F64, &[2, 3], 1), &[2, 3], &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0], "axis 1");
    check_f32(&t(DType::F32, &[3], 0), &[3], &[0.0, 1.0, 2.0], "f32");
    check_i64(&t(DType::I64, &[2, 2, 2], 1), &[2, 2, 2], &[0, 0, 1, 1, 0, 0, 1, 1], "i64 axis 1 of 3");
    check_bool(&t(DType::Bool, &[3], 0), &[3], &[false, true, true], "bool");
    check_f64(&t(DType::F64, &[0, 3], 1), &[0, 3], &[], "empty");
    check_i64(&t(DType::I64, &[3, 0], 0), &[3, 0], &[], "empty");
}

// ---------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------

/// The reference reduction: walk the whole operand in row-major order and fold each element
/// into its result element (the first element starts the fold); unreached results are the
/// identity.
fn ref_reduce<T: Copy>(x: &[T], shape: &[usize], axes: &[usize], identity: T, f: impl Fn(T, T) -> T) -> (Vec<usize>, Vec<T>) {
    let kept: Vec<usize> = (0..shape.len()).filter(|i| !axes.contains(i)).collect();
    let out_shape: Vec<usize> = kept.iter().map(|&i| shape[i]).collect();
    let mut acc: Vec<Option<T>> = vec![None; out_shape.iter().product()];
    for (flat, &v) in x.iter().enumerate() {
        let idx = unflatten(flat, shape);
        let o = flatten(&kept.iter().map(|&i| idx[i]).collect::<Vec<_>>(), &out_shape);
        acc[o] = Some(match acc[o] {
            None => v,
            Some(a) => f(a, v),
        });
    }
    (out_shape, acc.into_iter().map(|a| a.unwrap_or(identity)).collect())
}

fn ref_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else if b > a { b } else { a }
}
fn ref_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else if b < a { b } else { a }
}

/// The axis subsets of a rank-3 tensor, all 8.
fn subsets3() -> Vec<Vec<usize>> {
    (0..8u32).map(|m| (0..3).filter(|i| m >> i & 1 == 1).collect()).collect()
}

fn reduce(op: ReduceOp, axes: &[usize], x: &Tensor) -> Tensor {
    ok(Op::Reduce { op, axes: axes.to_vec() }, std::slice::from_ref(x))
}

#[test]
fn float_reductions_over_every_axis_subset() {
    let shape = [2, 3, 4];
    // Values with ±0 ties, a NaN, infinities and cancellation.
    let mut v: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
    v[3] = -0.0;
    v[4] = 0.0;
    v[5] = 1e16;
    v[6] = -1e16;
    v[13] = f64::NAN;
    v[20] = f64::INFINITY;
    let v32: Vec<f32> = v.iter().map(|&e| e as f32).collect();
    let x = f64s(&shape, &v);
    let x32 = f32s(&shape, &v32);
    for axes in subsets3() {
        let what = |op: ReduceOp| format!("{} over {axes:?}", op.name());
        let table: [Fold<f64>; 4] = [
            (ReduceOp::Sum, 0.0, |a, b| a + b),
            (ReduceOp::Prod, 1.0, |a, b| a * b),
            (ReduceOp::Max, f64::NEG_INFINITY, ref_max),
            (ReduceOp::Min, f64::INFINITY, ref_min),
        ];
        for (op, id, f) in table {
            let (s, want) = ref_reduce(&v, &shape, &axes, id, f);
            check_f64(&reduce(op, &axes, &x), &s, &want, &what(op));
        }
        let table32: [Fold<f32>; 4] = [
            (ReduceOp::Sum, 0.0, |a, b| a + b),
            (ReduceOp::Prod, 1.0, |a, b| a * b),
            (ReduceOp::Max, f32::NEG_INFINITY, |a, b| if a.is_nan() || b.is_nan() { f32::NAN } else if b > a { b } else { a }),
            (ReduceOp::Min, f32::INFINITY, |a, b| if a.is_nan() || b.is_nan() { f32::NAN } else if b < a { b } else { a }),
        ];
        for (op, id, f) in table32 {
            let (s, want) = ref_reduce(&v32, &shape, &axes, id, f);
            check_f32(&reduce(op, &axes, &x32), &s, &want, &what(op));
        }
    }
}

#[test]
fn integer_and_bool_reductions_over_every_axis_subset() {
    let shape = [2, 3, 4];
    let mut v: Vec<i64> = (0..24).map(|i| (i * 5 % 9) - 4).collect();
    v[0] = i64::MAX;
    v[1] = i64::MAX;
    v[10] = i64::MIN;
    let b: Vec<bool> = (0..24).map(|i| i % 3 != 0 || i == 9).collect();
    let (x, xb) = (i64s(&shape, &v), bools(&shape, &b));
    for axes in subsets3() {
        let table: [Fold<i64>; 4] = [
            (ReduceOp::Sum, 0, |a, b| (a as i128 + b as i128) as i64),
            (ReduceOp::Prod, 1, |a, b| (a as i128 * b as i128) as i64),
            (ReduceOp::Max, i64::MIN, |a, b| if b > a { b } else { a }),
            (ReduceOp::Min, i64::MAX, |a, b| if b < a { b } else { a }),
        ];
        for (op, id, f) in table {
            let (s, want) = ref_reduce(&v, &shape, &axes, id, f);
            check_i64(&reduce(op, &axes, &x), &s, &want, &format!("{} over {axes:?}", op.name()));
        }
        let table: [Fold<bool>; 3] = [
            (ReduceOp::All, true, |a, b| a && b),
            (ReduceOp::Any, false, |a, b| a || b),
            (ReduceOp::Parity, false, |a, b| a != b),
        ];
        for (op, id, f) in table {
            let (s, want) = ref_reduce(&b, &shape, &axes, id, f);
            check_bool(&reduce(op, &axes, &xb), &s, &want, &format!("{} over {axes:?}", op.name()));
        }
    }
}

#[test]
fn reductions_of_nothing_give_the_identity() {
    let e64 = f64s(&[2, 0, 3], &[]);
    let id = [(ReduceOp::Sum, 0.0), (ReduceOp::Prod, 1.0), (ReduceOp::Max, f64::NEG_INFINITY), (ReduceOp::Min, f64::INFINITY)];
    for (op, v) in id {
        check_f64(&reduce(op, &[1], &e64), &[2, 3], &[v; 6], op.name());
        check_f64(&reduce(op, &[0, 1, 2], &e64), &[], &[v], op.name());
        // Reducing axes that are not empty leaves an empty result.
        check_f64(&reduce(op, &[0, 2], &e64), &[0], &[], op.name());
    }
    assert_eq!(reduce(ReduceOp::Sum, &[0], &f64s(&[0], &[])).as_f64().unwrap()[0].to_bits(), 0.0f64.to_bits(), "+0");
    let e32 = f32s(&[0], &[]);
    check_f32(&reduce(ReduceOp::Max, &[0], &e32), &[], &[f32::NEG_INFINITY], "f32 max");
    check_f32(&reduce(ReduceOp::Min, &[0], &e32), &[], &[f32::INFINITY], "f32 min");
    check_f32(&reduce(ReduceOp::Sum, &[0], &e32), &[], &[0.0], "f32 sum");
    let ei = i64s(&[0, 2], &[]);
    let id = [(ReduceOp::Sum, 0), (ReduceOp::Prod, 1), (ReduceOp::Max, i64::MIN), (ReduceOp::Min, i64::MAX)];
    for (op, v) in id {
        check_i64(&reduce(op, &[0], &ei), &[2], &[v, v], op.name());
    }
    let eb = bools(&[0], &[]);
    check_bool(&reduce(ReduceOp::All, &[0], &eb), &[], &[true], "all");
    check_bool(&reduce(ReduceOp::Any, &[0], &eb), &[], &[false], "any");
    check_bool(&reduce(ReduceOp::Parity, &[0], &eb), &[], &[false], "parity");
}

#[test]
fn reduction_order_is_sequential_from_the_first_element() {
    let r = reduce(ReduceOp::Sum, &[0], &f64s(&[1], &[-0.0]));
    check_f64(&r, &[], &[-0.0], "sum of [-0.0]");
    let r = reduce(ReduceOp::Sum, &[0, 1], &f64s(&[2, 2], &[-0.0; 4]));
    check_f64(&r, &[], &[-0.0], "sum of -0.0s");
    // (1e16 + 1) - 1e16 = 0 in this order; pairwise or reversed orders would give 1.
    let r = reduce(ReduceOp::Sum, &[0], &f64s(&[3], &[1e16, 1.0, -1e16]));
    check_f64(&r, &[], &[0.0], "sequential");
    // The same along axis 0 of a [3, 1] tensor (the order follows positions, not memory).
    let r = reduce(ReduceOp::Sum, &[0], &f64s(&[3, 2], &[1e16, 0.0, 1.0, 0.0, -1e16, 0.0]));
    check_f64(&r, &[2], &[0.0, 0.0], "sequential along axis 0");
    // f32 sums accumulate in f32: 2^24 + 1 is 2^24.
    let r = reduce(ReduceOp::Sum, &[0], &f32s(&[3], &[16_777_216.0, 1.0, 1.0]));
    check_f32(&r, &[], &[16_777_216.0], "f32 accumulates in f32");
    // Ties keep the earlier element.
    check_f64(&reduce(ReduceOp::Max, &[0], &f64s(&[2], &[-0.0, 0.0])), &[], &[-0.0], "max tie");
    check_f64(&reduce(ReduceOp::Min, &[0], &f64s(&[2], &[0.0, -0.0])), &[], &[0.0], "min tie");
    check_f64(&reduce(ReduceOp::Max, &[0], &f64s(&[3], &[1.0, f64::NAN, 2.0])), &[], &[f64::NAN], "max NaN");
    check_f64(&reduce(ReduceOp::Min, &[0], &f64s(&[2], &[f64::NAN, -1.0])), &[], &[f64::NAN], "min NaN");
    check_f64(&reduce(ReduceOp::Sum, &[], &f64s(&[2], &[1.0, -0.0])), &[2], &[1.0, -0.0], "no axes");
}

fn reduce_case() -> impl Strategy<Value = (Vec<usize>, Vec<f64>, u8)> {
    prop::collection::vec(0..4usize, 0..5).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        let elem = prop_oneof![
            6 => -100.0..100.0f64,
            1 => Just(f64::NAN),
            1 => Just(-0.0),
            1 => Just(0.0),
            1 => Just(f64::NEG_INFINITY),
            1 => prop::num::f64::ANY,
        ];
        (Just(shape), prop::collection::vec(elem, n), any::<u8>())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reductions_match_a_naive_loop((shape, v, mask) in reduce_case()) {
        let axes: Vec<usize> = (0..shape.len()).filter(|i| mask >> i & 1 == 1).collect();
        let x = f64s(&shape, &v);
        let table: [Fold<f64>; 4] = [
            (ReduceOp::Sum, 0.0, |a, b| a + b),
            (ReduceOp::Prod, 1.0, |a, b| a * b),
            (ReduceOp::Max, f64::NEG_INFINITY, ref_max),
            (ReduceOp::Min, f64::INFINITY, ref_min),
        ];
        for (op, id, f) in table {
            let (s, want) = ref_reduce(&v, &shape, &axes, id, f);
            check_f64(&reduce(op, &axes, &x), &s, &want, &format!("{} over {axes:?} of {shape:?}", op.name()));
        }
        let b: Vec<bool> = v.iter().map(|&e| e > 0.0).collect();
        let (s, want) = ref_reduce(&b, &shape, &axes, false, |p, q| p != q);
        check_bool(&reduce(ReduceOp::Parity, &axes, &bools(&shape, &b)), &s, &want, "parity");
    }
}

// ---------------------------------------------------------------------------------------
// ArgMax
// ---------------------------------------------------------------------------------------

/// The reference argmax of a sequence: the first NaN if there is one, else the first
/// element equal to the largest.
fn ref_argmax(v: &[f64]) -> Option<i64> {
    if let Some(i) = v.iter().position(|x| x.is_nan()) {
        return Some(i as i64);
    }
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    v.iter().position(|&x| x == m).map(|i| i as i64)
}

#[test]
fn argmax_cases() {
    let am = |axis, t: &Tensor| eval(Op::ArgMax { axis }, std::slice::from_ref(t));
    let flat = |v: &[f64]| am(None, &f64s(&[v.len()], v));
    check_i64(&flat(&[1.0, 3.0, 3.0, 2.0]).unwrap(), &[], &[1], "first of ties");
    check_i64(&flat(&[1.0, f64::NAN, 5.0, f64::NAN]).unwrap(), &[], &[1], "first NaN");
    check_i64(&flat(&[f64::INFINITY, f64::NAN]).unwrap(), &[], &[1], "NaN beats +inf");
    check_i64(&flat(&[f64::NEG_INFINITY, f64::NEG_INFINITY]).unwrap(), &[], &[0], "all -inf");
    check_i64(&flat(&[-0.0, 0.0]).unwrap(), &[], &[0], "±0 tie");
    assert_eq!(flat(&[]).unwrap_err(), EvalError::EmptyArgMax);
    assert_eq!(EvalError::EmptyArgMax.to_string(), "argmax of an empty tensor");

    let shape = [2, 3, 4];
    let mut v: Vec<f64> = (0..24).map(|i| ((i * 5) % 7) as f64).collect();
    v[9] = f64::NAN;
    v[17] = f64::NAN;
    let x = f64s(&shape, &v);
    check_i64(&am(None, &x).unwrap(), &[], &[ref_argmax(&v).unwrap()], "flattened rank 3");
    for axis in 0..3 {
        let out_shape: Vec<usize> = (0..3).filter(|&i| i != axis).map(|i| shape[i]).collect();
        let want: Vec<i64> = (0..24 / shape[axis])
            .map(|o| {
                let kept = unflatten(o, &out_shape);
                let line: Vec<f64> = (0..shape[axis])
                    .map(|j| {
                        let mut idx = kept.clone();
                        idx.insert(axis, j);
                        v[flatten(&idx, &shape)]
                    })
                    .collect();
                ref_argmax(&line).unwrap()
            })
            .collect();
        check_i64(&am(Some(axis), &x).unwrap(), &out_shape, &want, &format!("axis {axis}"));
    }
    let x32 = f32s(&[2, 2], &[1.0, 1.0, f32::NAN, 2.0]);
    check_i64(&am(Some(1), &x32).unwrap(), &[2], &[0, 0], "f32");
    let xi = i64s(&[2, 3], &[i64::MIN, i64::MIN, i64::MIN, 4, 9, 9]);
    check_i64(&am(Some(1), &xi).unwrap(), &[2], &[0, 1], "i64");
    check_i64(&am(None, &xi).unwrap(), &[], &[4], "i64 flattened");
    // An empty result is no error; an empty scan is.
    check_i64(&am(Some(1), &f64s(&[0, 3], &[])).unwrap(), &[0], &[], "empty result");
    assert_eq!(am(Some(1), &f64s(&[3, 0], &[])).unwrap_err(), EvalError::EmptyArgMax);
}

// ---------------------------------------------------------------------------------------
// MatMul
// ---------------------------------------------------------------------------------------

/// The reference product: a sum of products from the first one, `+0` for none.
fn ref_matmul(a: &[f64], b: &[f64], batch: usize, m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![];
    for p in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut acc: Option<f64> = None;
                for kk in 0..k {
                    let prod = a[p * m * k + i * k + kk] * b[p * k * n + kk * n + j];
                    acc = Some(acc.map_or(prod, |s| s + prod));
                }
                out.push(acc.unwrap_or(0.0));
            }
        }
    }
    out
}

#[test]
fn matmul_cases() {
    let a: Vec<f64> = (0..6).map(|i| i as f64 * 0.7 - 1.3).collect();
    let b: Vec<f64> = (0..12).map(|i| 2.1 - i as f64 * 0.37).collect();
    let r = ok(Op::MatMul, &[f64s(&[2, 3], &a), f64s(&[3, 4], &b)]);
    check_f64(&r, &[2, 4], &ref_matmul(&a, &b, 1, 2, 3, 4), "rank 2");

    let a: Vec<f64> = (0..12).map(|i| (i as f64).sin()).collect();
    let b: Vec<f64> = (0..12).map(|i| (i as f64).cos()).collect();
    let r = ok(Op::MatMul, &[f64s(&[2, 2, 3], &a), f64s(&[2, 3, 2], &b)]);
    check_f64(&r, &[2, 2, 2], &ref_matmul(&a, &b, 2, 2, 3, 2), "batched");

    let r = ok(Op::MatMul, &[f64s(&[2, 0], &[]), f64s(&[0, 3], &[])]);
    check_f64(&r, &[2, 3], &[0.0; 6], "K = 0");
    assert!(r.as_f64().unwrap().iter().all(|x| x.to_bits() == 0), "+0.0");
    let r = ok(Op::MatMul, &[f64s(&[0, 2], &[]), f64s(&[2, 3], &count(6))]);
    check_f64(&r, &[0, 3], &[], "M = 0");

    // Sequential accumulation: (1e16 + 1) - 1e16.
    let r = ok(Op::MatMul, &[f64s(&[1, 3], &[1e16, 1.0, -1e16]), f64s(&[3, 1], &[1.0, 1.0, 1.0])]);
    check_f64(&r, &[1, 1], &[0.0], "sequential");
    // -0 products: the sum starts from the first product, so all -0 gives -0.
    let r = ok(Op::MatMul, &[f64s(&[1, 2], &[-0.0, -0.0]), f64s(&[2, 1], &[1.0, 1.0])]);
    check_f64(&r, &[1, 1], &[-0.0], "-0 products");
    let r = ok(Op::MatMul, &[f64s(&[1, 2], &[f64::INFINITY, 1.0]), f64s(&[2, 1], &[0.0, 1.0])]);
    check_f64(&r, &[1, 1], &[f64::NAN], "inf * 0");

    // f32 accumulates in f32.
    let a32 = [16_777_216.0f32, 1.0, 1.0];
    let r = ok(Op::MatMul, &[f32s(&[1, 3], &a32), f32s(&[3, 1], &[1.0, 1.0, 1.0])]);
    check_f32(&r, &[1, 1], &[16_777_216.0], "f32");
    let a32: Vec<f32> = (0..8).map(|i| 0.1 + i as f32 * 0.3).collect();
    let b32: Vec<f32> = (0..8).map(|i| 1.7 - i as f32 * 0.2).collect();
    let mut want = vec![];
    for i in 0..2 {
        for j in 0..2 {
            let mut acc = a32[i * 4] * b32[j];
            for kk in 1..4 {
                acc += a32[i * 4 + kk] * b32[kk * 2 + j];
            }
            want.push(acc);
        }
    }
    check_f32(&ok(Op::MatMul, &[f32s(&[2, 4], &a32), f32s(&[4, 2], &b32)]), &[2, 2], &want, "f32 2x4 @ 4x2");

    let r = ok(Op::MatMul, &[i64s(&[1, 2], &[i64::MAX, 2]), i64s(&[2, 1], &[2, 3])]);
    check_i64(&r, &[1, 1], &[i64::MAX.wrapping_mul(2).wrapping_add(6)], "i64 wraps");
}

// ---------------------------------------------------------------------------------------
// Graphs: run, inputs, outputs, errors
// ---------------------------------------------------------------------------------------

#[test]
fn outputs_used_twice_and_inputs_as_outputs() {
    let mut g = Graph::new("g");
    let x = f64s(&[2], &[1.0, -2.0]);
    let p = Tensor::scalar_f64(3.0);
    let d = i64s(&[1], &[5]);
    let xi = input(&mut g, Source::Arg(0), &x);
    let pi = input(&mut g, Source::Param(0), &p);
    let di = input(&mut g, Source::Data(0), &d);
    let pb = g.add(Op::Broadcast { shape: vec![2] }, &[pi]).unwrap();
    let y = g.add(Op::Binary(BinaryOp::Mul), &[xi, pb]).unwrap();
    let z = g.add(Op::Binary(BinaryOp::Add), &[y, y]).unwrap();
    g.outputs = vec![z, y, xi, z, di, y];
    let outs = run(&g, &Inputs { args: std::slice::from_ref(&x), params: &[p], data: std::slice::from_ref(&d) }).unwrap();
    assert_eq!(outs.len(), 6);
    check_f64(&outs[0], &[2], &[6.0, -12.0], "z");
    check_f64(&outs[1], &[2], &[3.0, -6.0], "y");
    assert_eq!(outs[2], x);
    check_f64(&outs[3], &[2], &[6.0, -12.0], "z again");
    assert_eq!(outs[4], d);
    check_f64(&outs[5], &[2], &[3.0, -6.0], "y again");
}

#[test]
fn constants_and_dead_nodes() {
    let mut g = Graph::new("g");
    let c = |t: Tensor| Op::Const(Const(Arc::new(t)));
    let a = g.add(c(f64s(&[2], &[1.5, f64::NAN])), &[]).unwrap();
    let i = g.add(c(Tensor::scalar_i64(9)), &[]).unwrap();
    // A dead node that would fail is never evaluated.
    g.add(Op::Gather { axis: 0 }, &[a, i]).unwrap();
    let neg = g.add(Op::Unary(UnaryOp::Neg), &[a]).unwrap();
    g.outputs = vec![neg, a];
    let outs = run(&g, &Inputs::default()).unwrap();
    check_f64(&outs[0], &[2], &[-1.5, f64::NAN], "neg");
    check_f64(&outs[1], &[2], &[1.5, f64::NAN], "const");
    let t = eval_op(&c(f32s(&[1], &[-0.0])), &Type::new(DType::F32, vec![1]), &[]).unwrap();
    check_f32(&t, &[1], &[-0.0], "eval_op of a constant");
    // An empty graph has no outputs.
    assert!(run(&Graph::new("e"), &Inputs::default()).unwrap().is_empty());
}

#[test]
fn input_errors() {
    let mut g = Graph::new("g");
    let ty = Type::new(DType::F64, vec![2]);
    let p = g.add(Op::Input { source: Source::Param(1), ty: ty.clone() }, &[]).unwrap();
    g.outputs = vec![p];
    let one = [f64s(&[2], &[0.0, 0.0])];
    let (id, e) = run(&g, &Inputs { args: &one, params: &one, data: &one }).unwrap_err();
    assert_eq!((id, e.clone()), (p, EvalError::MissingInput(Source::Param(1))));
    assert_eq!(e.to_string(), "no value was given for parameter 1");
    let two = [f64s(&[2], &[0.0, 0.0]), f32s(&[2], &[0.0, 0.0])];
    let (id, e) = run(&g, &Inputs { args: &[], params: &two, data: &[] }).unwrap_err();
    assert_eq!(id, p);
    assert_eq!(e, EvalError::InputType { source: Source::Param(1), expected: ty.clone(), found: Type::new(DType::F32, vec![2]) });
    assert_eq!(e.to_string(), "the value given for parameter 1 is a f32[2], but the program expects a f64[2]");
    let shape = [f64s(&[2], &[0.0, 0.0]), f64s(&[1, 2], &[0.0, 0.0])];
    assert!(matches!(run(&g, &Inputs { args: &[], params: &shape, data: &[] }), Err((_, EvalError::InputType { .. }))));
    assert_eq!(eval_op(&Op::Input { source: Source::Data(0), ty: ty.clone() }, &ty, &[]), Err(EvalError::MissingInput(Source::Data(0))));
    // An error in a later node names that node.
    let mut g = Graph::new("g");
    let a = input(&mut g, Source::Arg(0), &Tensor::scalar_i64(1));
    let b = input(&mut g, Source::Arg(1), &Tensor::scalar_i64(0));
    let q = g.add(Op::Binary(BinaryOp::Div), &[a, b]).unwrap();
    let r = g.add(Op::Unary(UnaryOp::Neg), &[q]).unwrap();
    g.outputs = vec![r];
    let args = [Tensor::scalar_i64(1), Tensor::scalar_i64(0)];
    assert_eq!(run(&g, &Inputs { args: &args, params: &[], data: &[] }), Err((q, EvalError::DivisionByZero)));
}

#[test]
fn ill_typed_nodes_are_errors_not_panics() {
    let f = Tensor::scalar_f64(1.0);
    let ty = Type::scalar(DType::F64);
    // Wrong stored type.
    let e = eval_op(&Op::Unary(UnaryOp::Neg), &Type::scalar(DType::F32), &[&f]).unwrap_err();
    assert!(matches!(e, EvalError::IllTyped(_)), "{e}");
    // Wrong operand count and operand types.
    assert!(matches!(eval_op(&Op::Binary(BinaryOp::Add), &ty, &[&f]), Err(EvalError::IllTyped(_))));
    let i = Tensor::scalar_i64(1);
    assert!(matches!(eval_op(&Op::Binary(BinaryOp::Add), &ty, &[&f, &i]), Err(EvalError::IllTyped(_))));
    assert!(matches!(eval_op(&Op::Unary(UnaryOp::Not), &ty, &[&f]), Err(EvalError::IllTyped(_))));
}

#[test]
fn huge_results_are_alloc_errors() {
    let ty = Type::new(DType::F64, vec![1 << 40, 1 << 20]);
    let e = eval_op(&Op::Iota { ty: ty.clone(), axis: 0 }, &ty, &[]).unwrap_err();
    assert!(matches!(e, EvalError::Alloc(_)), "{e}");
    assert!(e.to_string().contains("bytes"), "{e}");
    let e = eval(Op::Broadcast { shape: vec![usize::MAX, 2] }, &[Tensor::scalar_f64(1.0)]).unwrap_err();
    assert!(matches!(e, EvalError::Alloc(_)), "{e}");
}

#[test]
fn a_million_elements_through_a_chain() {
    // iota [1000, 1000] (value = column), transposed (value = row), summed over axis 1:
    // row i sums to 1000 * i; then the max over everything.
    let mut g = Graph::new("big");
    let t = g.add(Op::Iota { ty: Type::new(DType::F64, vec![1000, 1000]), axis: 1 }, &[]).unwrap();
    let tt = g.add(Op::Transpose { perm: vec![1, 0] }, &[t]).unwrap();
    let s = g.add(Op::Reduce { op: ReduceOp::Sum, axes: vec![1] }, &[tt]).unwrap();
    let sq = g.add(Op::PowInt(2), &[tt]).unwrap();
    let m = g.add(Op::Reduce { op: ReduceOp::Max, axes: vec![0, 1] }, &[sq]).unwrap();
    let am = g.add(Op::ArgMax { axis: None }, &[tt]).unwrap();
    g.outputs = vec![s, m, am];
    let outs = run(&g, &Inputs::default()).unwrap();
    let want: Vec<f64> = (0..1000).map(|i| 1000.0 * i as f64).collect();
    check_f64(&outs[0], &[1000], &want, "row sums");
    check_f64(&outs[1], &[], &[999.0 * 999.0], "max");
    check_i64(&outs[2], &[], &[999_000], "argmax");
}
