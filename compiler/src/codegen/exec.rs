//! Running a compiled graph: the schedule's steps in order over owned buffers, regions split
//! across threads where the plan allows, matrix products through `matrixmultiply`, and the
//! interpreter's kernels for the rest. Buffers are freed after their last reader.
//!
//! Errors: a step that fails (an integer division by zero flagged by a kernel, a `gather`
//! out of range, an allocation refused, a missing or mistyped input) stops the run, and the
//! reference interpreter is run on the same inputs to name the node and error it reports —
//! steps group nodes out of index order, so only the interpreter's own order says which
//! failure comes first. Errors are rare; this keeps them exactly the oracle's.

use std::borrow::Cow;

use gradc_runtime::tensor::{checked_len, try_vec, AllocError, Buffer, DType, Tensor};
use smallvec::SmallVec;

use super::layout::{Layout, Slot};
use super::plan::{Plan, Step, View};
use crate::interp::{self, EvalError, Inputs};
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type};

/// The kernel ABI (see the module doc of [`super`]).
pub(super) type KernelFn = unsafe extern "C" fn(*const *mut u8, usize, usize, *mut u64);

pub(super) struct Program {
    pub graph: Graph,
    pub plan: Plan,
    pub layouts: Vec<Layout>,
    pub funcs: Vec<KernelFn>,
    pub threads: usize,
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
                .filter_map(|s| match s {
                    Slot::Read(n) => Some(*n),
                    _ => None,
                })
                .collect(),
            Step::MatMul { a, b, .. } => vec![a.root, b.root],
            Step::Fallback(id) => g.args(*id).to_vec(),
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
                    let t = self.matmul(*node, a, b, &vals).map_err(|e| (*node, e))?;
                    vals[node.index()] = Some(Cow::Owned(t));
                }
                Step::Fallback(id) => {
                    let t = {
                        let args: SmallVec<[&Tensor; 3]> =
                            g.args(*id).iter().map(|a| vals[a.index()].as_deref().expect("operands are buffers")).collect();
                        interp::eval_op(g.op(*id), g.ty(*id), &args).map_err(|e| (*id, e))?
                    };
                    vals[id.index()] = Some(Cow::Owned(t));
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
            match *slot {
                Slot::Read(root) => ptrs.push(data_ptr(vals[root.index()].as_ref().expect("read before written"))),
                Slot::Write(m) => {
                    let mut f = Fresh::new(g.ty(m)).map_err(|e| (m, e))?;
                    ptrs.push(f.ptr());
                    fresh.push((m, f));
                }
                Slot::Reduce(red) => {
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
            let mut status = vec![0u64; t];
            if t <= 1 {
                // SAFETY: `ptrs` holds one live buffer per slot, of the lengths the kernel was
                // compiled for; writes go to buffers of the region's domain length.
                unsafe { f(ptrs.as_ptr(), 0, d0, &mut status[0]) };
            } else {
                let chunk = d0.div_ceil(t);
                let p = Ptrs(ptrs.as_ptr());
                std::thread::scope(|s| {
                    for (k, st) in status.iter_mut().enumerate() {
                        let (lo, hi) = (k * chunk, ((k + 1) * chunk).min(d0));
                        // SAFETY: as above; chunks of the outermost level write disjoint
                        // elements (the layout splits only where accumulators do not cross).
                        let mut work = move || unsafe { f(p.get(), lo, hi, st) };
                        if k + 1 == t {
                            work();
                        } else {
                            s.spawn(work);
                        }
                    }
                });
            }
            if status.iter().any(|&s| s != 0) {
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

    fn matmul(&self, node: NodeId, a: &View, b: &View, vals: &Values) -> Result<Tensor, EvalError> {
        let ty = self.graph.ty(node);
        let r = ty.rank();
        let batch = if r == 3 { ty.shape[0] } else { 1 };
        let (m, k, n) = (ty.shape[r - 2], a.shape[r - 1], ty.shape[r - 1]);
        let mut out = Fresh::new(ty)?;
        let len = batch * m * n;
        let base = |v: &View| data_ptr(vals[v.root.index()].as_ref().expect("operands are buffers"));
        let (pa, pb, pc) = (base(a), base(b), out.ptr());
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

/// The argument array, shared read-only by the threads of one region call.
#[derive(Clone, Copy)]
struct Ptrs(*const *mut u8);
// SAFETY: the pointers are only used during the scoped call, on buffers that outlive it.
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
