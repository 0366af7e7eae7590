//! Partitioning a graph into steps: fused elementwise regions (one Cranelift loop nest each),
//! float matrix products (the GEMM), native copies (`iota`, `concat`), and scans (`argmax`,
//! integer `matmul`: one Cranelift function each, `scan.rs`).
//!
//! Every live node gets a [`Place`]:
//! - a **buffer**: an input, a constant, or the result of a step;
//! - a **view**: `broadcast`, `transpose`, `slice`, `reshape` (of a contiguous view),
//!   `gather` (an offset read at run time) and `custom_jvp` are never computed; they are strided reads of a buffer (the view's root),
//!   which is how their users load them;
//! - a **member** of a region: elementwise ops (`unary`, `binary`, `powi`, `select`,
//!   `convert`) of the region's shape. A region stores only the members that something
//!   outside it needs; reductions over its shape are fused into it as accumulators. A view
//!   that something needs as a buffer (an output, a `concat` operand) is also copied by a
//!   region (it is then in that region's members, but stays a view for its other readers).
//!
//! Regions are formed greedily in topological order. A node joins a region of its shape if
//! every operand it does not share with the region is available before the region's step
//! (so the schedule stays a topological order of regions: no region reads what a later step
//! writes); it prefers the region holding most of its operands. A reduction over the first
//! axis of a region that will run on several threads is not fused (its sequential order
//! would forbid the split); it gets a region of its own that reads the stored operand.

use std::collections::HashMap;

use gradc_runtime::tensor::{strides, DType};
use smallvec::SmallVec;

use super::Options;
use crate::ir::{Graph, NodeId, Op};

/// A strided read of a buffer: element `idx` (of `shape`) is
/// `root[offset + Σ d.stride * index(d) for d in dynamic + Σ idx[i] * strides[i]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct View {
    pub root: NodeId,
    pub offset: usize,
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
    /// Offsets known only at run time: the `gather`s on the way from the root.
    pub dynamic: Vec<Dyn>,
}

/// A `gather`'s part of a view's offset: `stride * i`, where `i` is the value of the scalar
/// `i64` buffer `index`, checked to lie in `0..len` (else `gather` fails with
/// `IndexOutOfRange`) before anything reads the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Dyn {
    pub gather: NodeId,
    pub index: NodeId,
    pub stride: usize,
    pub len: usize,
}

impl View {
    fn contiguous(root: NodeId, shape: &[usize]) -> View {
        View { root, offset: 0, shape: shape.to_vec(), strides: strides(shape), dynamic: vec![] }
    }

    /// Whether the elements are consecutive in row-major order (size-1 axes do not matter).
    pub fn is_contiguous(&self) -> bool {
        let row_major = strides(&self.shape);
        self.shape.iter().zip(&self.strides).zip(&row_major).all(|((&d, &s), &r)| d == 1 || s == r)
    }
}

#[derive(Clone, Debug)]
pub(super) enum Place {
    /// Not needed by the outputs.
    Dead,
    /// An input, a constant, or a step's result.
    Buffer,
    /// A strided read of another node's buffer.
    View(View),
    /// An elementwise op computed in this region (a buffer only if the region stores it).
    Member(usize),
}

/// One step of the schedule, run in order.
#[derive(Clone, Debug)]
pub(super) enum Step {
    /// A compiled loop nest: `plan.regions[i]`.
    Region(usize),
    /// A `matmul` through the GEMM crate, its operands read through views (so a transposed
    /// operand is free).
    MatMul { node: NodeId, a: View, b: View },
    /// `iota`, or `concat` of views, written by a native loop (`exec.rs`).
    Native(NodeId),
    /// `argmax`, or a `matmul` of `i64`, as a compiled function of its own (`scan.rs`), its
    /// operands read through views; `func` numbers it among the scans.
    Scan { node: NodeId, args: Vec<View>, func: usize },
}

#[derive(Clone, Debug)]
pub(super) struct Region {
    /// The shape every member has: the loop nest's domain.
    pub shape: Vec<usize>,
    /// Its index in the schedule.
    pub step: usize,
    /// Elementwise ops and copied views, in topological order.
    pub members: Vec<NodeId>,
    /// Members written to buffers (filled in when planning ends).
    pub stored: Vec<NodeId>,
    /// Reductions whose operand has the region's shape, accumulated in the loop nest.
    pub reduces: Vec<NodeId>,
    /// Holds a reduction over the first axis of a domain large enough to be split across
    /// threads: runs on one thread, so elementwise work does not join it.
    pub sequential: bool,
}

#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub place: Vec<Place>,
    pub steps: Vec<Step>,
    pub regions: Vec<Region>,
}

impl Plan {
    /// How a region reads node `a` that it does not compute: a view of a buffer.
    pub fn view_of(&self, g: &Graph, a: NodeId) -> View {
        match &self.place[a.index()] {
            Place::View(v) => v.clone(),
            _ => View::contiguous(a, &g.ty(a).shape),
        }
    }

    pub fn in_region(&self, a: NodeId, r: usize) -> bool {
        matches!(self.place[a.index()], Place::Member(q) if q == r)
    }
}

/// How many recent regions of one shape a node considers joining (beyond its operands').
const RECENT: usize = 16;

/// The most nodes one region computes: register allocation is superlinear in the size of a
/// function, and a loop body this large gains nothing more from fusion.
const MAX_MEMBERS: usize = 512;

struct Planner<'g> {
    g: &'g Graph,
    big_len: usize,
    plan: Plan,
    /// The first step at or after which a node's buffer exists (0 = before any step).
    avail: Vec<usize>,
    stored: Vec<bool>,
    by_shape: HashMap<Vec<usize>, Vec<usize>>,
}

pub(super) fn plan(g: &Graph, opts: &Options) -> Plan {
    let n = g.len();
    let big_len = super::big_len(opts);
    let mut p = Planner {
        g,
        big_len,
        plan: Plan { place: vec![Place::Dead; n], steps: vec![], regions: vec![] },
        avail: vec![0; n],
        stored: vec![false; n],
        by_shape: HashMap::new(),
    };
    let live = g.live();
    for id in g.ids().filter(|id| live[id.index()]) {
        p.node(id);
    }
    for &o in &g.outputs {
        p.need_buffer(o);
    }
    let Planner { mut plan, stored, .. } = p;
    for r in &mut plan.regions {
        r.stored = r.members.iter().copied().filter(|m| stored[m.index()]).collect();
    }
    plan
}

/// Whether an op is computed element by element inside a region.
pub(super) fn is_elementwise(op: &Op) -> bool {
    matches!(op, Op::Unary(_) | Op::Binary(_) | Op::PowInt(_) | Op::Select | Op::Convert { .. })
}

impl Planner<'_> {
    fn node(&mut self, id: NodeId) {
        let g = self.g;
        let args = g.args(id);
        match g.op(id) {
            Op::Input { .. } | Op::Const(_) => self.plan.place[id.index()] = Place::Buffer,
            // The ops of `is_elementwise`.
            Op::Unary(_) | Op::Binary(_) | Op::PowInt(_) | Op::Select | Op::Convert { .. } => self.elementwise(id, &args),
            Op::Broadcast { shape } => {
                let v = self.view_arg(args[0]);
                let lead = shape.len() - v.shape.len();
                let st = (0..shape.len())
                    .map(|i| match i.checked_sub(lead) {
                        Some(j) if v.shape[j] != 1 => v.strides[j],
                        _ => 0,
                    })
                    .collect();
                self.set_view(id, View { shape: shape.clone(), strides: st, ..v });
            }
            Op::Transpose { perm } => {
                let v = self.view_arg(args[0]);
                let shape = perm.iter().map(|&p| v.shape[p]).collect();
                let st = perm.iter().map(|&p| v.strides[p]).collect();
                self.set_view(id, View { shape, strides: st, ..v });
            }
            Op::Slice { starts, ends } => {
                let v = self.view_arg(args[0]);
                let offset = v.offset + starts.iter().zip(&v.strides).map(|(s, d)| s * d).sum::<usize>();
                let shape = starts.iter().zip(ends).map(|(s, e)| e - s).collect();
                self.set_view(id, View { offset, shape, ..v });
            }
            Op::Reshape { shape } => {
                let mut v = self.view_arg(args[0]);
                if !v.is_contiguous() {
                    self.need_buffer(args[0]);
                    v = View::contiguous(args[0], &v.shape);
                }
                self.set_view(id, View { shape: shape.clone(), strides: strides(shape), ..v });
            }
            Op::Custom { .. } => {
                let v = self.view_arg(args[args.len() - 1]);
                self.set_view(id, v);
            }
            Op::Gather { axis } => {
                // The index must be a buffer before any region reading the view is placed.
                self.need_buffer(args[1]);
                let mut v = self.view_arg(args[0]);
                let stride = v.strides.remove(*axis);
                let len = v.shape.remove(*axis);
                v.dynamic.push(Dyn { gather: id, index: args[1], stride, len });
                self.set_view(id, v);
            }
            Op::Iota { .. } => self.step(id, Step::Native(id)),
            Op::Concat { .. } => {
                for &a in &args {
                    let v = self.view_arg(a);
                    self.need_view(&v);
                }
                self.step(id, Step::Native(id));
            }
            Op::Reduce { axes, .. } => self.reduce(id, args[0], axes),
            Op::MatMul if matches!(g.ty(id).dtype, DType::F64 | DType::F32) => {
                let (a, b) = (self.view_arg(args[0]), self.view_arg(args[1]));
                self.need_view(&a);
                self.need_view(&b);
                self.step(id, Step::MatMul { node: id, a, b });
            }
            Op::MatMul | Op::ArgMax { .. } => {
                let views: Vec<View> = args.iter().map(|&a| self.view_arg(a)).collect();
                for v in &views {
                    self.need_view(v);
                }
                let func = self.plan.steps.iter().filter(|s| matches!(s, Step::Scan { .. })).count();
                self.step(id, Step::Scan { node: id, args: views, func });
            }
        }
    }

    fn step(&mut self, id: NodeId, step: Step) {
        self.plan.steps.push(step);
        self.plan.place[id.index()] = Place::Buffer;
        self.avail[id.index()] = self.plan.steps.len();
    }

    fn set_view(&mut self, id: NodeId, v: View) {
        self.plan.place[id.index()] = Place::View(v);
    }

    /// The view through which a user reads `a` (not yet marking its root as needed).
    fn view_arg(&self, a: NodeId) -> View {
        self.plan.view_of(self.g, a)
    }

    /// The step from which `a` can be read by a region that does not compute it: when the
    /// buffer its view reads exists.
    fn ext_avail(&self, a: NodeId) -> usize {
        match &self.plan.place[a.index()] {
            Place::View(v) => v.dynamic.iter().map(|d| self.buffer_avail(d.index)).fold(self.buffer_avail(v.root), usize::max),
            _ => self.buffer_avail(a),
        }
    }

    /// The step from which `n`'s own buffer exists.
    fn buffer_avail(&self, n: NodeId) -> usize {
        match &self.plan.place[n.index()] {
            Place::Member(r) => self.plan.regions[*r].step + 1,
            _ => self.avail[n.index()],
        }
    }

    /// Makes `a` a buffer: a stored member, or a copy of a view made in some region (the
    /// view stays a view for the regions that read it so).
    fn need_buffer(&mut self, a: NodeId) {
        match self.plan.place[a.index()].clone() {
            Place::Member(_) => self.stored[a.index()] = true,
            Place::View(v) if !self.stored[a.index()] => {
                let shape = self.g.ty(a).shape.clone();
                let r = self.pick_region(&shape, &[], &[a], false);
                self.need_view(&v);
                self.plan.regions[r].members.push(a);
                self.stored[a.index()] = true;
                self.avail[a.index()] = self.plan.regions[r].step + 1;
            }
            _ => {}
        }
    }

    /// Reading `a` from a region: a member of it needs nothing; otherwise `a`'s root buffer.
    fn use_in(&mut self, a: NodeId, r: usize) {
        if self.plan.in_region(a, r) {
            return;
        }
        let v = self.view_arg(a);
        self.need_view(&v);
    }

    /// The buffers a view reads: its root and its `gather` indices.
    fn need_view(&mut self, v: &View) {
        self.need_buffer(v.root);
        for d in &v.dynamic {
            self.need_buffer(d.index);
        }
    }

    fn is_big(&self, shape: &[usize]) -> bool {
        shape.iter().product::<usize>() >= self.big_len
    }

    /// A region of this shape that `id` (reading `args`) may join, or a new one. `sequential`
    /// asks for a region that may run on one thread; `prefer` is a region to try first.
    fn pick_region(&mut self, shape: &[usize], prefer: &[usize], args: &[NodeId], sequential: bool) -> usize {
        let big = self.is_big(shape);
        let mut cands: SmallVec<[usize; 24]> = SmallVec::new();
        cands.extend(prefer.iter().copied());
        if let Some(list) = self.by_shape.get(shape) {
            cands.extend(list.iter().rev().take(RECENT).copied());
        }
        let mut best: Option<(usize, usize, usize)> = None;
        for &r in &cands {
            let region = &self.plan.regions[r];
            let full = region.members.len() + region.reduces.len() >= MAX_MEMBERS;
            if full || region.shape != shape || (big && region.sequential != sequential) {
                continue;
            }
            let s = region.step;
            if !args.iter().all(|&a| self.plan.in_region(a, r) || self.ext_avail(a) <= s) {
                continue;
            }
            let inside = args.iter().filter(|&&a| self.plan.in_region(a, r)).count();
            if best.is_none_or(|(i, bs, _)| (inside, s) > (i, bs)) {
                best = Some((inside, s, r));
            }
        }
        if let Some((_, _, r)) = best {
            return r;
        }
        let r = self.plan.regions.len();
        self.plan.regions.push(Region {
            shape: shape.to_vec(),
            step: self.plan.steps.len(),
            members: vec![],
            stored: vec![],
            reduces: vec![],
            sequential: big && sequential,
        });
        self.plan.steps.push(Step::Region(r));
        self.by_shape.entry(shape.to_vec()).or_default().push(r);
        r
    }

    fn elementwise(&mut self, id: NodeId, args: &[NodeId]) {
        let shape = self.g.ty(id).shape.clone();
        let prefer: SmallVec<[usize; 3]> = args
            .iter()
            .filter_map(|a| match self.plan.place[a.index()] {
                Place::Member(r) => Some(r),
                _ => None,
            })
            .collect();
        let r = self.pick_region(&shape, &prefer, args, false);
        for &a in args {
            self.use_in(a, r);
        }
        self.plan.regions[r].members.push(id);
        self.plan.place[id.index()] = Place::Member(r);
    }

    fn reduce(&mut self, id: NodeId, a: NodeId, axes: &[usize]) {
        let shape = self.g.ty(a).shape.clone();
        // Accumulating over the outermost axis that is not 1 forbids splitting the loop nest.
        let outer = shape.iter().position(|&d| d != 1);
        let sequential = self.is_big(&shape) && outer.is_some_and(|o| axes.contains(&o));
        let prefer: SmallVec<[usize; 1]> = match self.plan.place[a.index()] {
            Place::Member(r) => SmallVec::from_elem(r, 1),
            _ => SmallVec::new(),
        };
        let r = self.pick_region(&shape, &prefer, &[a], sequential);
        self.use_in(a, r);
        self.plan.regions[r].reduces.push(id);
        self.plan.place[id.index()] = Place::Buffer;
        self.avail[id.index()] = self.plan.regions[r].step + 1;
    }
}
