//! Running a compiled graph: the schedule's steps in order over owned buffers, regions and
//! scans split across the pool's threads (`pool.rs`) where they are large enough, float
//! matrix products through `matrixmultiply`. Buffers are freed after their last reader.
//!
//! Errors: a step that fails (an integer division by zero flagged by a kernel, a `gather`
//! out of range, an allocation refused, a missing or mistyped input) stops the run, and the
//! reference interpreter is run on the same inputs to name the node and error it reports —
//! steps group nodes out of index order, so only the interpreter's own order says which
//! failure comes first. Errors are rare; this keeps them exactly the oracle's.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use gradc_runtime::tensor::{checked_len, strides, try_vec, AllocError, Buffer, DType, Tensor};

use super::layout::{Layout, Slot};
use super::plan::{Dyn, Plan, Step, View};
use super::scan::Nest;
use crate::interp::{self, EvalError, Inputs};
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type};

/// The kernel ABI (see the module doc of [`super`]).
pub(super) type KernelFn = unsafe extern "C" fn(*const *mut u8, usize, usize, *mut u64);

pub(super) struct Program {
    pub graph: Graph,
    pub plan: Plan,
    pub layouts: Vec<Layout>,
    /// The regions' functions, then the scans'.
    pub funcs: Vec<KernelFn>,
    pub threads: usize,
    /// Elements read from which a scan is split across threads (`usize::MAX`: never).
    pub big_len: usize,
    /// Per step: the buffers no later step or output reads.
    pub drops: Vec<Vec<NodeId>>,
    pub inputs: Vec<(NodeId, Source)>,
    pub consts: Vec<NodeId>,
}

type Values<'a> = Vec<Option<Cow<'a, Tensor>>>;

/// The last step reading each buffer, turned into per-step drop lists.
pub(super) fn drops(g: &Graph, plan: &Plan, layouts: &[Layout]) -> Vec<Vec<NodeId>> {
    let mut last: Vec<Option<usize>> = vec![None; g.len()];
    for (s, step) in plan.steps.iter().enumerate() {
        let reads: Vec<NodeId> = match step {
            Step::Region(r) => layouts[*r]
                .slots
                .iter()
                .flat_map(|s| match s {
                    Slot::Read(n, dy) => view_reads(*n, dy),
                    _ => vec![],
                })
                .collect(),
            Step::MatMul { a, b, .. } => [view_reads(a.root, &a.dynamic), view_reads(b.root, &b.dynamic)].concat(),
            Step::Native(id) => g.args(*id).iter().flat_map(|&a| {
                let v = plan.view_of(g, a);
                view_reads(v.root, &v.dynamic)
            }).collect(),
            Step::Scan { args, .. } => args.iter().flat_map(|v| view_reads(v.root, &v.dynamic)).collect(),
        };
        for n in reads {
            last[n.index()] = Some(s);
        }
    }
    for &o in &g.outputs {
        last[o.index()] = None;
    }
    let mut drops = vec![Vec::new(); plan.steps.len()];
    for (i, l) in last.iter().enumerate() {
        if let Some(s) = l {
            drops[*s].push(NodeId::new(i));
        }
    }
    drops
}

/// The buffers a view reads: its root and its `gather` indices.
fn view_reads(root: NodeId, dy: &[Dyn]) -> Vec<NodeId> {
    std::iter::once(root).chain(dy.iter().map(|d| d.index)).collect()
}

/// The run-time part of a view's offset (elements), its indices checked as `gather` does.
fn dyn_offset(dy: &[Dyn], vals: &Values) -> Result<usize, (NodeId, EvalError)> {
    let mut off = 0;
    for d in dy {
        let t = vals[d.index.index()].as_deref().expect("gather indices are buffers");
        let Buffer::I64(v) = t.data() else { unreachable!("a gather index is i64") };
        let i = v[0];
        let i = usize::try_from(i)
            .ok()
            .filter(|&i| i < d.len)
            .ok_or((d.gather, EvalError::IndexOutOfRange { index: i, len: d.len }))?;
        off += i * d.stride;
    }
    Ok(off)
}

/// A view's first element (its static and run-time offsets applied), checked.
fn view_ptr(v: &View, vals: &Values) -> Result<*mut u8, (NodeId, EvalError)> {
    let t = vals[v.root.index()].as_deref().expect("read before written");
    let off = dyn_offset(&v.dynamic, vals)?;
    // SAFETY: the checked indices keep the view inside its root's buffer.
    Ok(unsafe { data_ptr(t).add(off * t.dtype().size()) })
}

impl Program {
    pub fn run(&self, inputs: &Inputs) -> Result<Vec<Tensor>, (NodeId, EvalError)> {
        self.try_run(inputs).map_err(|ours| match interp::run(&self.graph, inputs) {
            Err(theirs) => theirs,
            // The interpreter succeeds where the kernel failed: a bug here; say what failed.
            Ok(_) => ours,
        })
    }

    fn try_run(&self, inputs: &Inputs) -> Result<Vec<Tensor>, (NodeId, EvalError)> {
        let g = &self.graph;
        let mut vals: Values = (0..g.len()).map(|_| None).collect();
        for &(id, source) in &self.inputs {
            let t = inputs.get(source).ok_or((id, EvalError::MissingInput(source)))?;
            if t.dtype() != g.ty(id).dtype || t.shape() != g.ty(id).shape {
                let e = EvalError::InputType { source, expected: g.ty(id).clone(), found: interp::type_of(t) };
                return Err((id, e));
            }
            vals[id.index()] = Some(Cow::Borrowed(t));
        }
        for &id in &self.consts {
            if let Op::Const(c) = g.op(id) {
                vals[id.index()] = Some(Cow::Borrowed(c.tensor()));
            }
        }
        for (s, step) in self.plan.steps.iter().enumerate() {
            match step {
                Step::Region(r) => self.region(*r, &mut vals)?,
                Step::MatMul { node, a, b } => {
                    let (pa, pb) = (view_ptr(a, &vals)?, view_ptr(b, &vals)?);
                    let t = self.matmul(*node, a, b, pa, pb).map_err(|e| (*node, e))?;
                    vals[node.index()] = Some(Cow::Owned(t));
                }
                Step::Native(id) => {
                    let t = self.native(*id, &vals)?;
                    vals[id.index()] = Some(Cow::Owned(t));
                }
                Step::Scan { node, args, func } => {
                    let t = self.scan(*node, args, self.plan.regions.len() + func, &vals)?;
                    vals[node.index()] = Some(Cow::Owned(t));
                }
            }
            for d in &self.drops[s] {
                vals[d.index()] = None;
            }
        }
        let outs = &g.outputs;
        Ok(outs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let v = if outs[i + 1..].contains(o) { vals[o.index()].clone() } else { vals[o.index()].take() };
                v.expect("outputs are buffers").into_owned()
            })
            .collect())
    }

    fn region(&self, r: usize, vals: &mut Values) -> Result<(), (NodeId, EvalError)> {
        let (g, l, region) = (&self.graph, &self.layouts[r], &self.plan.regions[r]);
        let mut ptrs: Vec<*mut u8> = Vec::with_capacity(l.slots.len());
        let mut fresh: Vec<(NodeId, Fresh)> = Vec::new();
        let mut reduced: Vec<(NodeId, Buffer)> = Vec::new();
        for slot in &l.slots {
            match slot {
                Slot::Read(root, dy) => {
                    let t = vals[root.index()].as_deref().expect("read before written");
                    let off = dyn_offset(dy, vals)?;
                    // SAFETY: the checked indices keep the view inside the buffer.
                    ptrs.push(unsafe { data_ptr(t).add(off * t.dtype().size()) });
                }
                &Slot::Write(m) => {
                    let mut f = Fresh::new(g.ty(m)).map_err(|e| (m, e))?;
                    ptrs.push(f.ptr());
                    fresh.push((m, f));
                }
                &Slot::Reduce(red) => {
                    let mut b = identity(g, red).map_err(|e| (red, e))?;
                    ptrs.push(buffer_ptr(&mut b));
                    reduced.push((red, b));
                }
            }
        }
        if l.len > 0 {
            let f = self.funcs[r];
            let d0 = l.dims[0];
            let t = if l.split { self.threads.min(d0) } else { 1 };
            let p = Ptrs(ptrs.as_ptr());
            let status = split(d0, t, &|lo, hi, st| {
                // SAFETY: `ptrs` holds one live buffer per slot, of the lengths the kernel was
                // compiled for; writes go to buffers of the region's domain length, and chunks
                // of the outermost level write disjoint elements (the layout splits only where
                // accumulators do not cross).
                unsafe { f(p.get(), lo, hi, st) }
            });
            if status != 0 {
                let div = region.members.iter().copied().find(|&m| {
                    matches!(g.op(m), Op::Binary(BinaryOp::Div | BinaryOp::Rem)) && g.ty(m).dtype == DType::I64
                });
                return Err((div.unwrap_or(region.members[0]), EvalError::DivisionByZero));
            }
        }
        for (m, f) in fresh {
            // SAFETY: the kernel wrote every element of the domain (or there are none).
            let data = unsafe { f.finish(l.len) };
            vals[m.index()] = Some(Cow::Owned(Tensor::new(g.ty(m).shape.clone(), data).expect("domain length")));
        }
        for (red, b) in reduced {
            vals[red.index()] = Some(Cow::Owned(Tensor::new(g.ty(red).shape.clone(), b).expect("result length")));
        }
        Ok(())
    }

    /// `iota` (each element its index along the axis) and `concat` (each operand's view
    /// copied into its block of the result), natively.
    fn native(&self, id: NodeId, vals: &Values) -> Result<Tensor, (NodeId, EvalError)> {
        let g = &self.graph;
        let ty = g.ty(id);
        let mut out = Fresh::new(ty).map_err(|e| (id, e))?;
        let len = ty.len();
        let dst = out.ptr();
        match *g.op(id) {
            Op::Iota { axis, .. } => {
                let st = strides(&ty.shape)[axis];
                let n = ty.shape[axis];
                let index = |flat: usize| (flat / st % n) as i64;
                macro_rules! fill {
                    ($t:ty, $conv:expr) => {{
                        let p = dst as *mut $t;
                        for f in 0..len {
                            // SAFETY: `out` has room for `len` elements.
                            unsafe { p.add(f).write($conv(index(f))) }
                        }
                    }};
                }
                match ty.dtype {
                    DType::F64 => fill!(f64, |i| i as f64),
                    DType::F32 => fill!(f32, |i| i as f32),
                    DType::I64 => fill!(i64, |i| i),
                    DType::Bool => fill!(bool, |i| i != 0),
                }
            }
            Op::Concat { axis } => {
                let ost = strides(&ty.shape);
                let mut start = 0;
                for a in g.args(id) {
                    let v = self.plan.view_of(g, a);
                    let src = view_ptr(&v, vals)?;
                    let at = (src, v.offset, &v.strides[..]);
                    // SAFETY: the view lies inside its buffer (checked offsets), and its block
                    // of the result inside `out`.
                    unsafe {
                        match ty.dtype.size() {
                            8 => copy_walk(at, dst as *mut u64, start * ost[axis], &ost, &v.shape),
                            4 => copy_walk(at, dst as *mut u32, start * ost[axis], &ost, &v.shape),
                            _ => copy_walk(at, dst, start * ost[axis], &ost, &v.shape),
                        }
                    }
                    start += v.shape[axis];
                }
            }
            _ => unreachable!("the plan sends only iota and concat here"),
        }
        // SAFETY: every element was written above.
        let data = unsafe { out.finish(len) };
        Ok(Tensor::new(ty.shape.clone(), data).expect("result length"))
    }

    /// `argmax` or an integer `matmul` by its compiled function `func` (`scan.rs`), split
    /// across threads by its outermost level when it reads at least `big_len` elements.
    fn scan(&self, node: NodeId, args: &[View], func: usize, vals: &Values) -> Result<Tensor, (NodeId, EvalError)> {
        let ty = self.graph.ty(node);
        let mut out = Fresh::new(ty).map_err(|e| (node, e))?;
        let len = ty.len();
        let mut ptrs = Vec::with_capacity(args.len() + 1);
        for v in args {
            ptrs.push(view_ptr(v, vals)?);
        }
        ptrs.push(out.ptr());
        let nest = Nest::new(&self.graph, node, args);
        if let Nest::ArgMax { scan: 0, .. } = nest {
            if len > 0 {
                return Err((node, EvalError::EmptyArgMax));
            }
        }
        if len > 0 {
            let (outer, work) = nest.outer();
            let t = if work >= self.big_len { self.threads.min(outer) } else { 1 };
            let (f, p) = (self.funcs[func], Ptrs(ptrs.as_ptr()));
            // SAFETY: one pointer per operand view (inside its buffer, checked offsets) and
            // the result (room for `len` elements); chunks of the outermost level write
            // disjoint result elements. The scans set no status.
            split(outer, t, &|lo, hi, st| unsafe { f(p.get(), lo, hi, st) });
        }
        // SAFETY: the kernel wrote every result element (or there are none).
        let data = unsafe { out.finish(len) };
        Ok(Tensor::new(ty.shape.clone(), data).expect("result length"))
    }

    /// `pa`, `pb`: the operands' first elements ([`view_ptr`]).
    fn matmul(&self, node: NodeId, a: &View, b: &View, pa: *mut u8, pb: *mut u8) -> Result<Tensor, EvalError> {
        let ty = self.graph.ty(node);
        let r = ty.rank();
        let batch = if r == 3 { ty.shape[0] } else { 1 };
        let (m, k, n) = (ty.shape[r - 2], a.shape[r - 1], ty.shape[r - 1]);
        let mut out = Fresh::new(ty)?;
        let len = batch * m * n;
        let pc = out.ptr();
        let st = |v: &View, i: usize| v.strides[i] as isize;
        macro_rules! gemm {
            ($t:ty, $f:path) => {{
                let (pa, pb, pc) = (pa as *const $t, pb as *const $t, pc as *mut $t);
                for p in 0..batch {
                    let (oa, ob) = if r == 3 { (a.strides[0] * p, b.strides[0] * p) } else { (0, 0) };
                    // SAFETY: the views lie inside their buffers (the plan built them from the
                    // graph's shapes), and `pc` has room for `batch * m * n` elements.
                    unsafe {
                        let c = pc.add(p * m * n);
                        if k == 0 {
                            std::slice::from_raw_parts_mut(c, m * n).fill(0.0);
                        } else {
                            $f(m, k, n, 1.0, pa.add(a.offset + oa), st(a, r - 2), st(a, r - 1),
                               pb.add(b.offset + ob), st(b, r - 2), st(b, r - 1), 0.0, c, n as isize, 1);
                        }
                    }
                }
            }};
        }
        if len > 0 {
            match ty.dtype {
                DType::F64 => gemm!(f64, matrixmultiply::dgemm),
                DType::F32 => gemm!(f32, matrixmultiply::sgemm),
                _ => unreachable!("the plan sends only float products here"),
            }
        }
        // SAFETY: every element was written above.
        let data = unsafe { out.finish(len) };
        Ok(Tensor::new(ty.shape.clone(), data).expect("result length"))
    }
}

/// Copies the strided elements `src[offset + Σ idx[i] * strides[i]]` over `shape` to
/// `dst[at + Σ idx[i] * dst_strides[i]]`.
///
/// # Safety
/// Every such element lies inside its buffer; `T` is the elements' size.
unsafe fn copy_walk<T: Copy>((src, offset, st): (*mut u8, usize, &[usize]), dst: *mut T, at: usize, dst_st: &[usize], shape: &[usize]) {
    let src = src as *const T;
    match shape.split_first() {
        None => unsafe { dst.add(at).write(*src.add(offset)) },
        Some((&n, rest)) => {
            for i in 0..n {
                unsafe { copy_walk((src as *mut u8, offset + i * st[0], &st[1..]), dst, at + i * dst_st[0], &dst_st[1..], rest) }
            }
        }
    }
}

/// Runs `f(lo, hi, status)` over `0..n` in `t` contiguous chunks on the pool (one call when
/// `t <= 1`), each chunk with a status word of its own; gives the chunks' statuses or'ed.
fn split(n: usize, t: usize, f: &(dyn Fn(usize, usize, *mut u64) + Sync)) -> u64 {
    if t <= 1 {
        let mut st = 0;
        f(0, n, &mut st);
        return st;
    }
    let chunk = n.div_ceil(t);
    let status: Vec<AtomicU64> = (0..t).map(|_| AtomicU64::new(0)).collect();
    super::pool::for_each(t, t, &|k| {
        let (lo, hi) = ((k * chunk).min(n), ((k + 1) * chunk).min(n));
        f(lo, hi, status[k].as_ptr());
    });
    status.iter().fold(0, |a, s| a | s.load(Ordering::Relaxed))
}

/// An argument array, shared read-only by the threads of one call.
#[derive(Clone, Copy)]
struct Ptrs(*const *mut u8);
// SAFETY: the pointers are only used during the call that made them, on buffers that
// outlive it ([`split`] returns after every chunk).
unsafe impl Send for Ptrs {}
unsafe impl Sync for Ptrs {}

impl Ptrs {
    fn get(self) -> *const *mut u8 {
        self.0
    }
}

fn data_ptr(t: &Tensor) -> *mut u8 {
    match t.data() {
        Buffer::F64(v) => v.as_ptr() as *mut u8,
        Buffer::F32(v) => v.as_ptr() as *mut u8,
        Buffer::I64(v) => v.as_ptr() as *mut u8,
        Buffer::Bool(v) => v.as_ptr() as *mut u8,
    }
}

fn buffer_ptr(b: &mut Buffer) -> *mut u8 {
    match b {
        Buffer::F64(v) => v.as_mut_ptr() as *mut u8,
        Buffer::F32(v) => v.as_mut_ptr() as *mut u8,
        Buffer::I64(v) => v.as_mut_ptr() as *mut u8,
        Buffer::Bool(v) => v.as_mut_ptr() as *mut u8,
    }
}

/// A result buffer with room for its elements and none written yet.
enum Fresh {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Fresh {
    fn new(ty: &Type) -> Result<Fresh, EvalError> {
        let n = checked_len(ty.dtype, &ty.shape).map_err(EvalError::Alloc)?;
        let refused = || EvalError::Alloc(AllocError { dtype: ty.dtype, shape: ty.shape.clone() });
        macro_rules! reserve {
            ($variant:ident) => {{
                let mut v = Vec::new();
                v.try_reserve_exact(n).map_err(|_| refused())?;
                Fresh::$variant(v)
            }};
        }
        Ok(match ty.dtype {
            DType::F64 => reserve!(F64),
            DType::F32 => reserve!(F32),
            DType::I64 => reserve!(I64),
            DType::Bool => reserve!(Bool),
        })
    }

    fn ptr(&mut self) -> *mut u8 {
        match self {
            Fresh::F64(v) => v.as_mut_ptr() as *mut u8,
            Fresh::F32(v) => v.as_mut_ptr() as *mut u8,
            Fresh::I64(v) => v.as_mut_ptr() as *mut u8,
            Fresh::Bool(v) => v.as_mut_ptr() as *mut u8,
        }
    }

    /// # Safety
    /// The first `n` elements (at most the capacity) have been written (`bool`s as 0 or 1).
    unsafe fn finish(self, n: usize) -> Buffer {
        macro_rules! done {
            ($v:ident, $variant:ident) => {{
                let mut v = $v;
                debug_assert!(n <= v.capacity());
                unsafe { v.set_len(n) };
                Buffer::$variant(v)
            }};
        }
        match self {
            Fresh::F64(v) => done!(v, F64),
            Fresh::F32(v) => done!(v, F32),
            Fresh::I64(v) => done!(v, I64),
            Fresh::Bool(v) => done!(v, Bool),
        }
    }
}

/// A reduction's result filled with the value accumulation starts from: the op's identity,
/// with a float sum starting at `-0.0` (the identity of IEEE addition, so the sum of `[-0.0]`
/// stays `-0.0`) unless there is nothing to sum (`+0.0`).
fn identity(g: &Graph, red: NodeId) -> Result<Buffer, EvalError> {
    let Op::Reduce { op, .. } = g.op(red) else { unreachable!("a reduction") };
    let ty = g.ty(red);
    let n = checked_len(ty.dtype, &ty.shape).map_err(EvalError::Alloc)?;
    let refused = |_| EvalError::Alloc(AllocError { dtype: ty.dtype, shape: ty.shape.clone() });
    let operand = g.ty(g.args(red)[0]).len();
    let empty = n == 0 || operand == 0;
    let float = match op {
        ReduceOp::Sum if empty => 0.0,
        ReduceOp::Sum => -0.0,
        ReduceOp::Prod => 1.0,
        ReduceOp::Max => f64::NEG_INFINITY,
        _ => f64::INFINITY,
    };
    Ok(match ty.dtype {
        DType::F64 => Buffer::F64(try_vec(n, float).map_err(refused)?),
        DType::F32 => Buffer::F32(try_vec(n, float as f32).map_err(refused)?),
        DType::I64 => Buffer::I64(
            try_vec(
                n,
                match op {
                    ReduceOp::Sum => 0,
                    ReduceOp::Prod => 1,
                    ReduceOp::Max => i64::MIN,
                    _ => i64::MAX,
                },
            )
            .map_err(refused)?,
        ),
        DType::Bool => Buffer::Bool(try_vec(n, *op == ReduceOp::All).map_err(refused)?),
    })
}
