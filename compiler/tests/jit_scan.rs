//! The JIT's scans (`argmax` and integer `matmul`, compiled loops of their own) against the
//! reference interpreter, bit for bit: `argmax` of every numeric element type over every
//! axis and the whole tensor, with NaNs (first, late, all), ties (the first wins, `-0.0`
//! against `0.0`), infinities and extreme integers, over scalars, empty scans (the
//! interpreter's error) and empty results, and over strided views (transposed, sliced,
//! broadcast operands); `i64` matrix products of ranks 2 and 3 whose sums overflow (they
//! wrap), with `k`, `m` or `n` zero, transposed and broadcast operands. Each graph runs on
//! one thread and split across three (even when tiny), vector loops on and off.

mod common;

use std::sync::Arc;

use common::bits;
use gradc_compiler::codegen::{self, Options};
use gradc_compiler::interp::{run, type_of, EvalError, Inputs};
use gradc_compiler::ir::op::Const;
use gradc_compiler::ir::{Graph, NodeId, Op, Source};
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

fn variants() -> Vec<Options> {
    let base = Options { threads: 1, min_parallel_len: 1 << 16, simd: true, verify: true, exact_math: true };
    vec![base.clone(), Options { simd: false, ..base.clone() }, Options { threads: 3, min_parallel_len: 2, ..base }]
}

/// `g` on `args` through the JIT under every option set and through the interpreter: the
/// same bits, or the same error; `scans` is how many scan steps the kernel must have.
fn agree(what: &str, g: &Graph, args: &[Tensor], scans: usize) {
    let inputs = Inputs { args, params: &[], data: &[] };
    let theirs = run(g, &inputs);
    for opts in variants() {
        let k = codegen::compile_with(g, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(k.stats().scans, scans, "{what}: {:?}", k.stats());
        for _ in 0..2 {
            let ours = k.run(&inputs);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => {
                    let (a, b): (Vec<_>, Vec<_>) = (a.iter().map(bits).collect(), b.iter().map(bits).collect());
                    assert_eq!(a, b, "{what} ({opts:?})\n{}", gradc_compiler::ir::print::print(g));
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{what}: errors differ"),
                _ => panic!("{what} ({opts:?}): one failed\njit: {:?}\ninterp: {:?}", ours.as_ref().err(), theirs.as_ref().err()),
            }
        }
    }
}

fn input(g: &mut Graph, k: u32, t: &Tensor) -> NodeId {
    g.add(Op::Input { source: Source::Arg(k), ty: type_of(t) }, &[]).unwrap()
}

/// Values with many ties and the special ones, cycled from `skew`, for `argmax`.
fn scan_values(d: DType, n: usize, skew: usize, rng: &mut Rng) -> Tensor {
    let pick = |rng: &mut Rng, k: usize| -> f64 {
        const SPECIAL: [f64; 8] = [0.0, -0.0, 1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, f64::MAX];
        if k.is_multiple_of(3) {
            SPECIAL[(k / 3 + skew) % SPECIAL.len()]
        } else {
            // Few distinct values: ties everywhere.
            (rng.below(5) as f64) - 2.0
        }
    };
    let data = match d {
        DType::F64 => Buffer::F64((0..n).map(|k| pick(rng, k)).collect()),
        DType::F32 => Buffer::F32((0..n).map(|k| pick(rng, k) as f32).collect()),
        DType::I64 => {
            const SPECIAL: [i64; 4] = [i64::MIN, i64::MAX, 0, -1];
            Buffer::I64((0..n).map(|k| if k.is_multiple_of(3) { SPECIAL[(k / 3 + skew) % 4] } else { rng.below(5) as i64 - 2 }).collect())
        }
        DType::Bool => unreachable!("argmax takes no bool"),
    };
    Tensor::new(vec![n], data).unwrap()
}

fn shaped(t: Tensor, shape: &[usize]) -> Tensor {
    Tensor::new(shape.to_vec(), t.data().clone()).unwrap()
}

const NUMERIC: [DType; 3] = [DType::F64, DType::F32, DType::I64];

#[test]
fn argmax_agrees_bitwise_over_every_axis() {
    let mut rng = Rng::seed_from_u64(1);
    let shapes: [&[usize]; 10] = [&[], &[1], &[7], &[3, 5], &[5, 1, 4], &[4, 3, 6], &[2, 0, 3], &[0, 4], &[3, 0], &[65, 9]];
    for d in NUMERIC {
        for shape in shapes {
            for skew in 0..3 {
                let n = shape.iter().product();
                let x = shaped(scan_values(d, n, skew, &mut rng), shape);
                for axis in (0..shape.len()).map(Some).chain([None]) {
                    let mut g = Graph::new("argmax");
                    let a = input(&mut g, 0, &x);
                    let m = g.add(Op::ArgMax { axis }, &[a]).unwrap();
                    g.outputs = vec![m];
                    agree(&format!("argmax {axis:?} of {d:?}{shape:?} skew {skew}"), &g, std::slice::from_ref(&x), 1);
                }
            }
        }
    }
}

#[test]
fn argmax_edge_values() {
    let nan = f64::NAN;
    let cases: Vec<Vec<f64>> = vec![
        vec![nan, 1.0, nan],
        vec![1.0, 2.0, nan, 3.0, nan],
        vec![nan; 4],
        vec![-0.0, 0.0, -0.0],
        vec![0.0, -0.0],
        vec![f64::NEG_INFINITY; 3],
        vec![2.0, 2.0, 1.0, 2.0],
        vec![-f64::MAX, f64::NEG_INFINITY, 5e-324],
    ];
    for v in cases {
        for d in [DType::F64, DType::F32] {
            let x = Tensor::from_f64s(d, vec![v.len()], &v).unwrap();
            let mut g = Graph::new("argmax");
            let a = input(&mut g, 0, &x);
            let m = g.add(Op::ArgMax { axis: None }, &[a]).unwrap();
            g.outputs = vec![m];
            agree(&format!("argmax of {v:?} as {d:?}"), &g, std::slice::from_ref(&x), 1);
        }
    }
    for v in [vec![i64::MIN, i64::MIN], vec![-1, i64::MAX, i64::MAX, 0], vec![i64::MIN + 1, i64::MIN]] {
        let x = Tensor::new(vec![v.len()], Buffer::I64(v.clone())).unwrap();
        let mut g = Graph::new("argmax");
        let a = input(&mut g, 0, &x);
        let m = g.add(Op::ArgMax { axis: Some(0) }, &[a]).unwrap();
        g.outputs = vec![m];
        agree(&format!("argmax of {v:?}"), &g, std::slice::from_ref(&x), 1);
    }
    // An empty scan is the interpreter's error; an empty result is not an error.
    let x = Tensor::new(vec![3, 0], Buffer::F64(vec![])).unwrap();
    for (axis, fails) in [(Some(1), true), (Some(0), false), (None, true)] {
        let mut g = Graph::new("argmax");
        let a = input(&mut g, 0, &x);
        let m = g.add(Op::ArgMax { axis }, &[a]).unwrap();
        g.outputs = vec![m];
        let k = codegen::compile_with(&g, &variants()[2]).unwrap();
        let r = k.run(&Inputs { args: std::slice::from_ref(&x), params: &[], data: &[] });
        assert_eq!(r.as_ref().err(), fails.then_some(&(m, EvalError::EmptyArgMax)), "{axis:?}");
        agree(&format!("argmax {axis:?} of [3, 0]"), &g, std::slice::from_ref(&x), 1);
    }
}

#[test]
fn argmax_reads_views() {
    let mut rng = Rng::seed_from_u64(2);
    for d in NUMERIC {
        let x = shaped(scan_values(d, 4 * 6 * 5, 1, &mut rng), &[4, 6, 5]);
        let s = shaped(scan_values(d, 6, 2, &mut rng), &[6]);
        for axis in [Some(0), Some(1), Some(2), None] {
            let mut g = Graph::new("views");
            let (a, b) = (input(&mut g, 0, &x), input(&mut g, 1, &s));
            let t = g.add(Op::Transpose { perm: vec![2, 0, 1] }, &[a]).unwrap();
            let sl = g.add(Op::Slice { starts: vec![1, 1, 2], ends: vec![4, 4, 6] }, &[t]).unwrap();
            let bc = g.add(Op::Broadcast { shape: vec![3, 5, 6] }, &[b]).unwrap();
            // A gathered row: a view with a run-time offset.
            let one = g.add(Op::Const(Const(Arc::new(Tensor::new(vec![], Buffer::I64(vec![1])).unwrap()))), &[]).unwrap();
            let gx = g.add(Op::Gather { axis: 0 }, &[a, one]).unwrap();
            let mut outs = vec![];
            for v in [t, sl, bc] {
                outs.push(g.add(Op::ArgMax { axis }, &[v]).unwrap());
            }
            if axis != Some(2) {
                outs.push(g.add(Op::ArgMax { axis }, &[gx]).unwrap());
            }
            let scans = outs.len();
            g.outputs = outs;
            agree(&format!("argmax {axis:?} of views of {d:?}"), &g, &[x.clone(), s.clone()], scans);
        }
    }
}

fn random_i64(shape: &[usize], rng: &mut Rng) -> Tensor {
    let n = shape.iter().product();
    // Full-range values: nearly every product and sum overflows.
    Tensor::new(shape.to_vec(), Buffer::I64((0..n).map(|_| rng.next_u64() as i64).collect())).unwrap()
}

#[test]
fn i64_matmul_wraps_bitwise() {
    let mut rng = Rng::seed_from_u64(3);
    for (m, k, n) in [(3, 4, 5), (1, 1, 1), (17, 33, 9), (4, 0, 3), (0, 3, 2), (2, 3, 0), (2, 1, 7), (40, 50, 45)] {
        let (a, b, at) = (random_i64(&[m, k], &mut rng), random_i64(&[k, n], &mut rng), random_i64(&[k, m], &mut rng));
        let mut g = Graph::new("imm");
        let (x, y, xt) = (input(&mut g, 0, &a), input(&mut g, 1, &b), input(&mut g, 2, &at));
        let p = g.add(Op::MatMul, &[x, y]).unwrap();
        let t = g.add(Op::Transpose { perm: vec![1, 0] }, &[xt]).unwrap();
        let q = g.add(Op::MatMul, &[t, y]).unwrap();
        let yt = g.add(Op::Transpose { perm: vec![1, 0] }, &[y]).unwrap();
        let ytt = g.add(Op::Transpose { perm: vec![1, 0] }, &[yt]).unwrap();
        let r = g.add(Op::MatMul, &[x, ytt]).unwrap();
        g.outputs = vec![p, q, r];
        agree(&format!("i64 matmul {m}x{k}x{n}"), &g, &[a, b, at], 3);
    }
    // Small values: sums that do not overflow, against a product written out here.
    let a = Tensor::new(vec![2, 3], Buffer::I64(vec![1, 2, 3, 4, 5, 6])).unwrap();
    let b = Tensor::new(vec![3, 2], Buffer::I64(vec![7, 8, 9, 10, 11, 12])).unwrap();
    let mut g = Graph::new("imm");
    let (x, y) = (input(&mut g, 0, &a), input(&mut g, 1, &b));
    g.outputs = vec![g.add(Op::MatMul, &[x, y]).unwrap()];
    let out = codegen::compile(&g).unwrap().run(&Inputs { args: &[a, b], params: &[], data: &[] }).unwrap();
    assert_eq!(out[0].data(), &Buffer::I64(vec![58, 64, 139, 154]));
}

#[test]
fn batched_i64_matmul_wraps_bitwise() {
    let mut rng = Rng::seed_from_u64(4);
    for (batch, m, k, n) in [(3, 4, 6, 2), (1, 5, 5, 5), (2, 0, 3, 3), (2, 3, 0, 4), (0, 2, 2, 2), (4, 9, 1, 8)] {
        let (a, b) = (random_i64(&[batch, m, k], &mut rng), random_i64(&[k, n], &mut rng));
        let bt = random_i64(&[batch, n, k], &mut rng);
        let mut g = Graph::new("bmm");
        let (x, y, z) = (input(&mut g, 0, &a), input(&mut g, 1, &b), input(&mut g, 2, &bt));
        let yb = g.add(Op::Broadcast { shape: vec![batch, k, n] }, &[y]).unwrap();
        let p = g.add(Op::MatMul, &[x, yb]).unwrap();
        let zt = g.add(Op::Transpose { perm: vec![0, 2, 1] }, &[z]).unwrap();
        let q = g.add(Op::MatMul, &[x, zt]).unwrap();
        g.outputs = vec![p, q];
        agree(&format!("i64 matmul {batch}x{m}x{k}x{n}"), &g, &[a, b, bt], 2);
    }
}
