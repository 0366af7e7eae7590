//! The memory side of one region: which buffers its kernel reads and writes (its pointer
//! slots, in ABI order), and the loop nest over its domain, with axes of size 1 dropped and
//! adjacent axes merged wherever every access walks them as one (so a region without strided
//! reads is a single flat loop).

use gradc_runtime::tensor::{strides, DType};

use super::plan::{Dyn, Plan, Region, View};
use crate::ir::{Graph, NodeId, Op, ReduceOp};

/// The shortest domain given a vector loop.
const MIN_VECTOR_LEN: usize = 8;

/// What one pointer of a kernel's argument array points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// A buffer the kernel reads (a view's root), from the run-time offset of its `gather`s
    /// (checked before the call; see [`Dyn`]).
    Read(NodeId, Vec<Dyn>),
    /// A stored member: written in full, contiguous over the domain.
    Write(NodeId),
    /// A reduction's result: filled with its identity before the call, accumulated into.
    Reduce(NodeId),
}

/// A constant scalar, emitted as an immediate instead of a load.
#[derive(Clone, Copy, Debug)]
pub(super) enum Imm {
    F64(f64),
    F32(f32),
    I64(i64),
    Bool(bool),
}

/// An external value the region reads: `node`'s view, as element offsets per loop level.
#[derive(Clone, Debug)]
pub(super) struct Read {
    pub node: NodeId,
    pub dtype: DType,
    pub slot: usize,
    pub imm: Option<Imm>,
    pub offset: usize,
    pub strides: Vec<usize>,
}

#[derive(Clone, Debug)]
pub(super) struct Write {
    pub node: NodeId,
    pub slot: usize,
    pub strides: Vec<usize>,
}

#[derive(Clone, Debug)]
pub(super) struct Accumulate {
    pub node: NodeId,
    pub op: ReduceOp,
    pub operand: NodeId,
    pub slot: usize,
    pub strides: Vec<usize>,
}

#[derive(Clone, Debug)]
pub(super) struct Layout {
    /// The extents of the loop levels, outermost first (at least one level).
    pub dims: Vec<usize>,
    pub slots: Vec<Slot>,
    pub reads: Vec<Read>,
    pub writes: Vec<Write>,
    pub reduces: Vec<Accumulate>,
    /// Elements in the domain.
    pub len: usize,
    /// Lanes of the vector loop (1: scalar only).
    pub lanes: usize,
    /// Whether the outermost level may be split across threads.
    pub split: bool,
}

impl Layout {
    /// The layout of region `r` of the plan; `big_len` is the domain length from which it
    /// may be split across threads.
    pub fn new(g: &Graph, plan: &Plan, r: usize, simd: bool, exact_math: bool, big_len: usize) -> Layout {
        let region = &plan.regions[r];
        let shape = &region.shape;
        let mut slots = Vec::new();
        // The external nodes read, each once, in first-use order.
        let mut read_nodes: Vec<NodeId> = Vec::new();
        let mut want = |a: NodeId| {
            if !read_nodes.contains(&a) {
                read_nodes.push(a);
            }
        };
        for &m in &region.members {
            if super::plan::is_elementwise(g.op(m)) {
                for a in g.args(m) {
                    if !plan.in_region(a, r) {
                        want(a);
                    }
                }
            } else {
                want(m);
            }
        }
        for &red in &region.reduces {
            let a = g.args(red)[0];
            if !plan.in_region(a, r) {
                want(a);
            }
        }
        let mut reads = Vec::new();
        for a in read_nodes {
            let v: View = plan.view_of(g, a);
            // A gathered constant is read, so that its index is checked.
            let imm = if v.dynamic.is_empty() { immediate(g, v.root) } else { None };
            let slot = if imm.is_some() {
                usize::MAX
            } else {
                slot_of(&mut slots, Slot::Read(v.root, v.dynamic))
            };
            reads.push(Read { node: a, dtype: g.ty(a).dtype, slot, imm, offset: v.offset, strides: v.strides });
        }
        let row_major = strides(shape);
        let writes: Vec<Write> = region
            .stored
            .iter()
            .map(|&m| Write { node: m, slot: slot_of(&mut slots, Slot::Write(m)), strides: row_major.clone() })
            .collect();
        let reduces: Vec<Accumulate> = region
            .reduces
            .iter()
            .map(|&red| {
                let Op::Reduce { op, axes } = g.op(red) else { unreachable!("a region's reduces are reductions") };
                let out = strides(&g.ty(red).shape);
                let mut k = 0;
                let st = (0..shape.len())
                    .map(|i| {
                        if axes.contains(&i) {
                            0
                        } else {
                            k += 1;
                            out[k - 1]
                        }
                    })
                    .collect();
                Accumulate { node: red, op: *op, operand: g.args(red)[0], slot: slot_of(&mut slots, Slot::Reduce(red)), strides: st }
            })
            .collect();
        let mut layout = Layout {
            dims: shape.clone(),
            slots,
            reads,
            writes,
            reduces,
            len: shape.iter().product(),
            lanes: 1,
            split: false,
        };
        layout.collapse();
        // A vector loop over a handful of elements is code to compile for nothing.
        layout.lanes = if simd && layout.len >= MIN_VECTOR_LEN { lanes(g, region, &layout, exact_math) } else { 1 };
        layout.split = layout.len >= big_len
            && layout.dims[0] >= 2
            && layout.reduces.iter().all(|a| a.strides[0] != 0);
        layout
    }

    /// Every access's strides, mutably (for collapsing the axes of all at once).
    fn patterns(&mut self) -> Vec<&mut Vec<usize>> {
        let mut v: Vec<&mut Vec<usize>> = self.reads.iter_mut().map(|r| &mut r.strides).collect();
        v.extend(self.writes.iter_mut().map(|w| &mut w.strides));
        v.extend(self.reduces.iter_mut().map(|a| &mut a.strides));
        v
    }

    fn collapse(&mut self) {
        let dims = std::mem::take(&mut self.dims);
        let keep: Vec<usize> = (0..dims.len()).filter(|&i| dims[i] != 1).collect();
        let mut levels: Vec<Vec<usize>> = Vec::new();
        for &i in &keep {
            let fits = levels.last().is_some_and(|prev| {
                let j = *prev.last().expect("a level has an axis");
                self.patterns().iter().all(|st| st[j] == st[i] * dims[i])
            });
            if fits {
                levels.last_mut().expect("checked").push(i);
            } else {
                levels.push(vec![i]);
            }
        }
        self.dims = if levels.is_empty() {
            vec![if dims.contains(&0) { 0 } else { 1 }]
        } else {
            levels.iter().map(|l| l.iter().map(|&i| dims[i]).product()).collect()
        };
        for st in self.patterns() {
            *st = if levels.is_empty() {
                vec![0]
            } else {
                // A merged level steps like its innermost axis.
                levels.iter().map(|l| st[*l.last().expect("a level has an axis")]).collect()
            };
        }
    }
}

fn slot_of(slots: &mut Vec<Slot>, s: Slot) -> usize {
    match slots.iter().position(|q| *q == s) {
        Some(i) => i,
        None => {
            slots.push(s);
            slots.len() - 1
        }
    }
}

/// A one-element constant, as an immediate.
fn immediate(g: &Graph, root: NodeId) -> Option<Imm> {
    let Op::Const(c) = g.op(root) else { return None };
    let t = c.tensor();
    if t.len() != 1 {
        return None;
    }
    Some(match t.data() {
        gradc_runtime::tensor::Buffer::F64(v) => Imm::F64(v[0]),
        gradc_runtime::tensor::Buffer::F32(v) => Imm::F32(v[0]),
        gradc_runtime::tensor::Buffer::I64(v) => Imm::I64(v[0]),
        gradc_runtime::tensor::Buffer::Bool(v) => Imm::Bool(v[0]),
    })
}

/// The vector width of a region: 2 if it computes on `f64`, else 4 if on `f32`, else 1
/// (integer and boolean work stays scalar). The inline approximations of `polymath.rs` are
/// vector ops like any other (their rare shim calls are in cold blocks). Calls to the math
/// shims (the other functions, or all with `exact_math`) are made lane by lane,
/// and every vector live across a call is spilled, so a region with calls is vectorized only
/// if it has at least 4 vector-friendly ops per call (measured on 10^6 `f64`: `exp` then 4
/// cheap ops is even, 16 cheap ops is 1.25x faster vectorized, 64 is 1.6x; P1, 5 calls and
/// 19 cheap ops, is 1.15x faster scalar).
fn lanes(g: &Graph, region: &Region, layout: &Layout, exact_math: bool) -> usize {
    let dtypes = region
        .members
        .iter()
        .chain(&region.reduces)
        .map(|&m| g.ty(m).dtype)
        .chain(layout.reads.iter().map(|r| r.dtype));
    let (mut f64s, mut f32s) = (false, false);
    for d in dtypes {
        f64s |= d == DType::F64;
        f32s |= d == DType::F32;
    }
    let (mut calls, mut cheap) = (0, 0);
    for &m in &region.members {
        let d = g.args(m).first().map_or(g.ty(m).dtype, |&a| g.ty(a).dtype);
        if super::ops::calls(g.op(m), d, exact_math) {
            calls += 1;
        } else if d.is_float() {
            cheap += 1;
        }
    }
    if cheap < 4 * calls {
        1
    } else if f64s {
        2
    } else if f32s {
        4
    } else {
        1
    }
}
