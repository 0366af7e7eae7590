//! The ops that are not elementwise, each one Cranelift function of its own with the kernel
//! ABI (see the module doc of [`super`]): `argmax` and integer `matmul`, reading their
//! operands through views like the regions do (a transposed or broadcast operand is free).
//!
//! Both follow the interpreter's orders exactly, so the results are its bits:
//! - `argmax`: per result element, a sequential scan in row-major order of the scanned
//!   axes, keeping the first element and replacing the best so far iff the best is not NaN
//!   and the element is NaN or greater — for floats one `fcmp ugt x, best` (true when
//!   either is NaN or `x > best`) and'ed with `fcmp ord best, best`; for `i64` one `icmp
//!   sgt`. The loop is branch-free (`select` of value and index).
//! - integer `matmul`: row by row in i-k-j order, `c[i, j] = a[i, 0] * b[0, j]`, then
//!   `c[i, j] = c[i, j] + a[i, kk] * b[kk, j]` for `kk = 1..k`: wrapping `imul` and
//!   `iadd`, as the interpreter's `wrapping_mul` / `wrapping_add`; `k = 0` gives zeros.
//!
//! The outermost level (`lo..hi` of the ABI) is the result's first kept axis for `argmax`
//! (after merging), the `batch * m` rows for `matmul`, so a large one splits across threads
//! ([`Nest::outer`]). An empty `argmax` scan never reaches a kernel: `exec.rs` reports it.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;
use gradc_runtime::tensor::{strides, DType};

use super::emit::{mem, scalar_ty};
use super::plan::View;
use crate::ir::{Graph, NodeId, Op};

/// The loop structure of one scan step, derived from the graph and the operands' views the
/// same way by the emitter and by `exec.rs`.
#[derive(Clone, Debug)]
pub(super) enum Nest {
    ArgMax {
        /// Kept axes, merged where the view allows: (length, operand stride, result stride);
        /// never empty (a scalar result is one level of length 1).
        kept: Vec<(usize, usize, usize)>,
        /// Scanned axes, merged likewise: (length, operand stride), in row-major order;
        /// never empty.
        red: Vec<(usize, usize)>,
        /// Elements scanned per result element.
        scan: usize,
    },
    MatMul { batch: usize, m: usize, k: usize, n: usize },
}

impl Nest {
    pub fn new(g: &Graph, node: NodeId, args: &[View]) -> Nest {
        match *g.op(node) {
            Op::ArgMax { axis } => {
                let v = &args[0];
                let (mut kept, mut red) = (vec![], vec![]);
                let out_st = strides(&g.ty(node).shape);
                let mut o = 0;
                for (i, (&d, &s)) in v.shape.iter().zip(&v.strides).enumerate() {
                    if axis.is_none_or(|a| a == i) {
                        red.push((d, s, 0));
                    } else {
                        kept.push((d, s, out_st[o]));
                        o += 1;
                    }
                }
                let scan = red.iter().map(|r| r.0).product();
                let red = merge(red).into_iter().map(|(d, s, _)| (d, s)).collect();
                Nest::ArgMax { kept: merge(kept), red, scan }
            }
            Op::MatMul => {
                let ty = g.ty(node);
                let r = ty.rank();
                Nest::MatMul {
                    batch: if r == 3 { ty.shape[0] } else { 1 },
                    m: ty.shape[r - 2],
                    k: args[0].shape[r - 1],
                    n: ty.shape[r - 1],
                }
            }
            _ => unreachable!("the plan sends only argmax and integer matmul here"),
        }
    }

    /// The extent of the outermost level (split across threads), and the elements read in
    /// all (what decides whether to split).
    pub fn outer(&self) -> (usize, usize) {
        match self {
            Nest::ArgMax { kept, scan, .. } => (kept[0].0, kept.iter().map(|k| k.0).product::<usize>() * scan),
            &Nest::MatMul { batch, m, k, n } => (batch * m, batch * m * k.max(1) * n),
        }
    }
}

/// Drops axes of length 1 and merges each axis into the previous one where both strides
/// continue it (`s_prev == s * d` for every stride): the same elements in the same order.
/// Gives one level `(1, 0, 0)` when nothing is left.
fn merge(axes: Vec<(usize, usize, usize)>) -> Vec<(usize, usize, usize)> {
    if axes.iter().any(|a| a.0 == 0) {
        return vec![(0, 0, 0)];
    }
    let mut out: Vec<(usize, usize, usize)> = vec![];
    for (d, s, t) in axes.into_iter().filter(|a| a.0 != 1) {
        match out.last_mut() {
            Some(p) if p.1 == s * d && p.2 == t * d => *p = (p.0 * d, s, t),
            _ => out.push((d, s, t)),
        }
    }
    if out.is_empty() {
        out.push((1, 0, 0));
    }
    out
}

/// Emits `for i in lo..hi { body(b, i) }`.
fn for_range(b: &mut FunctionBuilder, lo: Value, hi: Value, body: impl FnOnce(&mut FunctionBuilder, Value)) {
    let i = b.declare_var(types::I64);
    b.def_var(i, lo);
    let (header, block, exit) = (b.create_block(), b.create_block(), b.create_block());
    b.ins().jump(header, &[]);
    b.switch_to_block(header);
    let iv = b.use_var(i);
    let go = b.ins().icmp(IntCC::UnsignedLessThan, iv, hi);
    b.ins().brif(go, block, &[], exit, &[]);
    b.switch_to_block(block);
    body(b, iv);
    let next = b.ins().iadd_imm_s(iv, 1);
    b.def_var(i, next);
    b.ins().jump(header, &[]);
    b.switch_to_block(exit);
}

/// `for i in 0..n`.
fn for_n(b: &mut FunctionBuilder, n: usize, body: impl FnOnce(&mut FunctionBuilder, Value)) {
    let (lo, hi) = (b.ins().iconst(types::I64, 0), b.ins().iconst(types::I64, n as i64));
    for_range(b, lo, hi, body);
}

/// `base + i * step` (bytes).
fn offset(b: &mut FunctionBuilder, base: Value, i: Value, step: usize) -> Value {
    if step == 0 {
        return base;
    }
    let t = b.ins().imul_imm_s(i, step as i64);
    b.ins().iadd(base, t)
}

/// Emits the whole function body of a scan step (whose signature is the kernel ABI).
pub(super) fn body(mut b: FunctionBuilder<'_>, g: &Graph, node: NodeId, args: &[View], nest: &Nest, config: cranelift_codegen::isa::TargetFrontendConfig) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let (slots, lo, hi) = (params[0], params[1], params[2]);
    let ptrs: Vec<Value> =
        (0..=args.len()).map(|k| b.ins().load(types::I64, MemFlagsData::trusted(), slots, (8 * k) as i32)).collect();
    match nest {
        Nest::ArgMax { kept, red, .. } => {
            let d = g.ty(g.args(node)[0]).dtype;
            let size = d.size();
            let x = b.ins().iadd_imm_s(ptrs[0], (args[0].offset * size) as i64);
            argmax_kept(&mut b, (x, ptrs[1]), kept, red, d, Some((lo, hi)));
        }
        &Nest::MatMul { m, k, n, .. } => {
            let (a, bv) = (&args[0], &args[1]);
            let r = a.shape.len();
            let pa = b.ins().iadd_imm_s(ptrs[0], (a.offset * 8) as i64);
            let pb = b.ins().iadd_imm_s(ptrs[1], (bv.offset * 8) as i64);
            let pc = ptrs[2];
            for_range(&mut b, lo, hi, |b, row| {
                let mm = b.ins().iconst(types::I64, m as i64);
                let i = b.ins().urem(row, mm);
                let arow = offset(b, pa, i, a.strides[r - 2] * 8);
                let crow = offset(b, pc, row, n * 8);
                let (arow, brow) = if r == 3 {
                    let p = b.ins().udiv(row, mm);
                    (offset(b, arow, p, a.strides[0] * 8), offset(b, pb, p, bv.strides[0] * 8))
                } else {
                    (arow, pb)
                };
                imatmul_row(b, (arow, a.strides[r - 1] * 8), (brow, bv.strides[r - 2] * 8, bv.strides[r - 1] * 8), crow, k, n);
            });
        }
    }
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize(config);
}

/// The kept levels of `argmax` (the first over `range`, the others whole), then a scan per
/// result element. `(x, out)`: the operand's and the result's addresses at this level.
fn argmax_kept(b: &mut FunctionBuilder, (x, out): (Value, Value), kept: &[(usize, usize, usize)], red: &[(usize, usize)], d: DType, range: Option<(Value, Value)>) {
    let Some((&(len, xs, os), rest)) = kept.split_first() else {
        return argmax_scan(b, x, out, red, d);
    };
    let level = |b: &mut FunctionBuilder, i: Value| {
        let (x, out) = (offset(b, x, i, xs * d.size()), offset(b, out, i, os * 8));
        argmax_kept(b, (x, out), rest, red, d, None);
    };
    match range {
        Some((lo, hi)) => for_range(b, lo, hi, level),
        None => for_n(b, len, level),
    }
}

/// One scan: the best so far starts as the first element (index 0), every element
/// (the first again, which never replaces itself) is compared in row-major order.
fn argmax_scan(b: &mut FunctionBuilder, x: Value, out: Value, red: &[(usize, usize)], d: DType) {
    let t = scalar_ty(d);
    let (best, at, j) = (b.declare_var(t), b.declare_var(types::I64), b.declare_var(types::I64));
    let first = b.ins().load(t, mem(), x, 0);
    b.def_var(best, first);
    let zero = b.ins().iconst(types::I64, 0);
    b.def_var(at, zero);
    b.def_var(j, zero);
    fn walk(b: &mut FunctionBuilder, x: Value, red: &[(usize, usize)], d: DType, each: &mut dyn FnMut(&mut FunctionBuilder, Value)) {
        match red.split_first() {
            None => each(b, x),
            Some((&(len, s), rest)) => for_n(b, len, |b, i| {
                let x = offset(b, x, i, s * d.size());
                walk(b, x, rest, d, each)
            }),
        }
    }
    walk(b, x, red, d, &mut |b, p| {
        let v = b.ins().load(t, mem(), p, 0);
        let old = b.use_var(best);
        let take = if d.is_float() {
            let gt = b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, v, old);
            let ord = b.ins().fcmp(FloatCC::Ordered, old, old);
            b.ins().band(gt, ord)
        } else {
            b.ins().icmp(IntCC::SignedGreaterThan, v, old)
        };
        let new = b.ins().select(take, v, old);
        b.def_var(best, new);
        let jv = b.use_var(j);
        let a = b.use_var(at);
        let a = b.ins().select(take, jv, a);
        b.def_var(at, a);
        let jn = b.ins().iadd_imm_s(jv, 1);
        b.def_var(j, jn);
    });
    let a = b.use_var(at);
    b.ins().store(mem(), a, out, 0);
}

/// One row of an `i64` product: `(a, a_k)` the row's first element and its stride along
/// `k`; `(b, b_k, b_n)` the operand's first element and strides (all in bytes); `c` the
/// result row (contiguous).
fn imatmul_row(b: &mut FunctionBuilder, (a, ak): (Value, usize), (bp, bk, bn): (Value, usize, usize), c: Value, k: usize, n: usize) {
    let t = types::I64;
    if k == 0 {
        for_n(b, n, |b, j| {
            let p = offset(b, c, j, 8);
            let z = b.ins().iconst(t, 0);
            b.ins().store(mem(), z, p, 0);
        });
        return;
    }
    let x0 = b.ins().load(t, mem(), a, 0);
    for_n(b, n, |b, j| {
        let y = offset(b, bp, j, bn);
        let y = b.ins().load(t, mem(), y, 0);
        let p = offset(b, c, j, 8);
        let v = b.ins().imul(x0, y);
        b.ins().store(mem(), v, p, 0);
    });
    if k == 1 {
        return;
    }
    let (one, kk_end) = (b.ins().iconst(t, 1), b.ins().iconst(t, k as i64));
    for_range(b, one, kk_end, |b, kk| {
        let xa = offset(b, a, kk, ak);
        let x = b.ins().load(t, mem(), xa, 0);
        let brow = offset(b, bp, kk, bk);
        for_n(b, n, |b, j| {
            let y = offset(b, brow, j, bn);
            let y = b.ins().load(t, mem(), y, 0);
            let p = offset(b, c, j, 8);
            let old = b.ins().load(t, mem(), p, 0);
            let prod = b.ins().imul(x, y);
            let v = b.ins().iadd(old, prod);
            b.ins().store(mem(), v, p, 0);
        });
    });
}
