//! One region to one Cranelift function: the loop nest over its domain, each level a loop,
//! the innermost split into a vector loop (`lanes` elements per iteration) and a scalar
//! tail, and in its body the members in topological order, the stores, and the
//! reductions' accumulation.
//!
//! The function's ABI (see the module doc of [`super`]):
//! `extern "C" fn(slots: *const *mut u8, lo: usize, hi: usize, status: *mut u64)` runs the
//! outermost level over `lo..hi`; `slots` holds one pointer per [`Slot`](super::layout::Slot);
//! `*status` is set to 1 on an integer division by zero (the kernel goes on, dividing by 1).
//!
//! Reads whose innermost stride is 0 (splats: broadcast scalars, constants as immediates)
//! are loaded once per inner loop; accumulators whose innermost stride is 0 (a reduction
//! over the innermost axes) live in a register across it and combine lanes in order, so a
//! sum is the interpreter's sequential sum exactly.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, FuncRef, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};
use gradc_runtime::tensor::DType;
use smallvec::SmallVec;

use super::layout::{Imm, Layout};
use super::ops::Repr;
use super::plan::{is_elementwise, Plan, Region};
use crate::ir::{BinaryOp, Graph, NodeId, ReduceOp};

/// The state of emitting one function.
pub(super) struct Em<'a, 'b> {
    pub b: FunctionBuilder<'b>,
    pub module: &'a mut JITModule,
    pub shims: HashMap<&'static str, FuncRef>,
    pub status: Value,
    /// Lanes of the body being emitted (1 in the scalar loop).
    pub lanes: usize,
    /// Transcendentals through the exact shims rather than inline ([`super::Options::exact_math`]).
    pub exact_math: bool,
}

pub(super) fn mem() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

pub(super) fn scalar_ty(d: DType) -> Type {
    match d {
        DType::F64 => types::F64,
        DType::F32 => types::F32,
        DType::I64 => types::I64,
        DType::Bool => types::I8,
    }
}

/// Slots up to this many have their pointers loaded once, at entry; with more, each access
/// loads its pointer where it is used (long-lived values are what make register allocation
/// of large regions slow).
const PRELOAD_SLOTS: usize = 8;

/// Emits the whole function body of region `r` into `b` (whose signature is the kernel ABI).
pub(super) fn region_body(mut b: FunctionBuilder<'_>, module: &mut JITModule, g: &Graph, plan: &Plan, r: usize, layout: &Layout, exact_math: bool) {
    let config = module.target_config();
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let mut em = Em { b, module, shims: HashMap::new(), status: params[3], lanes: 1, exact_math };
    let bases = (0..layout.slots.len())
        .map(|k| {
            (layout.slots.len() <= PRELOAD_SLOTS)
                .then(|| em.b.ins().load(types::I64, MemFlagsData::trusted(), params[0], (8 * k) as i32))
        })
        .collect();
    let mut pats: Vec<Pat> = Vec::new();
    for rd in &layout.reads {
        pats.push(Pat { slot: rd.slot, offset: rd.offset, strides: rd.strides.clone(), size: rd.dtype.size() });
    }
    for w in &layout.writes {
        pats.push(Pat { slot: w.slot, offset: 0, strides: w.strides.clone(), size: g.ty(w.node).dtype.size() });
    }
    for a in &layout.reduces {
        pats.push(Pat { slot: a.slot, offset: 0, strides: a.strides.clone(), size: g.ty(a.node).dtype.size() });
    }
    let nest = Nest { g, region: &plan.regions[r], layout, slots: params[0], bases, pats };
    nest.level(&mut em, &mut Vec::new(), params[1], params[2]);
    em.b.ins().return_(&[]);
    em.b.seal_all_blocks();
    em.b.finalize(config);
}

/// How one access walks memory: `slot[offset + Σ idx[l] * strides[l]]`, elements of `size`
/// bytes.
struct Pat {
    slot: usize,
    offset: usize,
    strides: Vec<usize>,
    size: usize,
}

struct Nest<'p> {
    g: &'p Graph,
    region: &'p Region,
    layout: &'p Layout,
    /// The `slots` argument.
    slots: Value,
    /// Slot pointers loaded at entry (all or none).
    bases: Vec<Option<Value>>,
    /// Reads, then writes, then reductions, in the layout's order.
    pats: Vec<Pat>,
}

/// What the body reads for an external node at the current element.
#[derive(Clone, Copy)]
enum Hoisted {
    /// A splat: loaded once per inner loop (scalar, and vector if it has a vector type).
    Splat(Value, Option<Value>),
    Walk,
}

/// An address as a value and a constant byte offset.
type Addr = (Value, i64);

impl Nest<'_> {
    /// The address of access `k` at the loop indices `idx` (the enclosing levels').
    fn addr(&self, em: &mut Em, k: usize, idx: &[Value]) -> Addr {
        let p = &self.pats[k];
        let mut dynamic: Option<Value> = None;
        for (l, &i) in idx.iter().enumerate() {
            let step = (p.strides[l] * p.size) as i64;
            if step == 0 {
                continue;
            }
            let t = em.b.ins().imul_imm_s(i, step);
            dynamic = Some(match dynamic {
                None => t,
                Some(d) => em.b.ins().iadd(d, t),
            });
        }
        let base = match self.bases[p.slot] {
            Some(b) => b,
            None => em.b.ins().load(types::I64, MemFlagsData::trusted(), self.slots, (8 * p.slot) as i32),
        };
        let a = match dynamic {
            Some(d) => em.b.ins().iadd(base, d),
            None => base,
        };
        (a, (p.offset * p.size) as i64)
    }

    /// `addr` plus `lane` elements of the innermost stride, as a load/store operand.
    fn lane(&self, em: &mut Em, k: usize, (a, off): Addr, lane: usize) -> (Value, i32) {
        let p = &self.pats[k];
        let off = off + (lane * p.strides[p.strides.len() - 1] * p.size) as i64;
        match i32::try_from(off) {
            Ok(o) => (a, o),
            Err(_) => (em.b.ins().iadd_imm_s(a, off), 0),
        }
    }

    fn level(&self, em: &mut Em, idx: &mut Vec<Value>, lo: Value, hi: Value) {
        let lvl = idx.len();
        if lvl + 1 == self.layout.dims.len() {
            return self.inner(em, idx, lo, hi);
        }
        let i = em.b.declare_var(types::I64);
        em.b.def_var(i, lo);
        let (header, body, exit) = (em.b.create_block(), em.b.create_block(), em.b.create_block());
        em.b.ins().jump(header, &[]);
        em.b.switch_to_block(header);
        let iv = em.b.use_var(i);
        let go = em.b.ins().icmp(IntCC::UnsignedLessThan, iv, hi);
        em.b.ins().brif(go, body, &[], exit, &[]);
        em.b.switch_to_block(body);
        let zero = em.b.ins().iconst(types::I64, 0);
        let end = em.b.ins().iconst(types::I64, self.layout.dims[lvl + 1] as i64);
        idx.push(iv);
        self.level(em, idx, zero, end);
        idx.pop();
        let next = em.b.ins().iadd_imm_s(iv, 1);
        em.b.def_var(i, next);
        em.b.ins().jump(header, &[]);
        em.b.switch_to_block(exit);
    }

    fn inner(&self, em: &mut Em, outer: &[Value], lo: Value, hi: Value) {
        let l = self.layout;
        let lvl = outer.len();
        let (nr, nw) = (l.reads.len(), l.writes.len());
        // Splats, loaded once.
        let mut hoisted = Vec::with_capacity(nr);
        for (k, rd) in l.reads.iter().enumerate() {
            hoisted.push(if rd.imm.is_some() || rd.strides[lvl] == 0 {
                let s = match rd.imm {
                    Some(imm) => em.imm(imm),
                    None => {
                        let a = self.addr(em, k, outer);
                        let (p, o) = self.lane(em, k, a, 0);
                        em.b.ins().load(scalar_ty(rd.dtype), mem(), p, o)
                    }
                };
                let v = super::ops::vec_ty(rd.dtype, l.lanes).filter(|_| l.lanes > 1).map(|t| {
                    if rd.dtype == DType::Bool {
                        let wide = em.b.ins().uextend(t.lane_type(), s);
                        let m = em.b.ins().ineg(wide);
                        em.b.ins().splat(t, m)
                    } else {
                        em.b.ins().splat(t, s)
                    }
                });
                Hoisted::Splat(s, v)
            } else {
                Hoisted::Walk
            });
        }
        // Accumulators over the innermost level, in registers.
        let mut accs = HashMap::new();
        for (k, a) in l.reduces.iter().enumerate() {
            if a.strides[lvl] == 0 {
                let d = self.g.ty(a.node).dtype;
                let var = em.b.declare_var(scalar_ty(d));
                let at = self.addr(em, nr + nw + k, outer);
                let (p, o) = self.lane(em, nr + nw + k, at, 0);
                let v = em.b.ins().load(scalar_ty(d), mem(), p, o);
                em.b.def_var(var, v);
                accs.insert(k, (var, p, o));
            }
        }
        let j = em.b.declare_var(types::I64);
        em.b.def_var(j, lo);
        let (tail_head, tail_body, exit) = (em.b.create_block(), em.b.create_block(), em.b.create_block());
        let mut idx = outer.to_vec();
        if l.lanes > 1 && l.dims[lvl] >= l.lanes {
            let (vec_head, vec_body) = (em.b.create_block(), em.b.create_block());
            em.b.ins().jump(vec_head, &[]);
            em.b.switch_to_block(vec_head);
            let jv = em.b.use_var(j);
            let jn = em.b.ins().iadd_imm_s(jv, l.lanes as i64);
            let go = em.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, jn, hi);
            em.b.ins().brif(go, vec_body, &[], tail_head, &[]);
            em.b.switch_to_block(vec_body);
            idx.push(jv);
            em.lanes = l.lanes;
            self.body(em, &idx, &hoisted, &accs);
            em.lanes = 1;
            idx.pop();
            em.b.def_var(j, jn);
            em.b.ins().jump(vec_head, &[]);
        } else {
            em.b.ins().jump(tail_head, &[]);
        }
        em.b.switch_to_block(tail_head);
        let jt = em.b.use_var(j);
        let go = em.b.ins().icmp(IntCC::UnsignedLessThan, jt, hi);
        em.b.ins().brif(go, tail_body, &[], exit, &[]);
        em.b.switch_to_block(tail_body);
        idx.push(jt);
        self.body(em, &idx, &hoisted, &accs);
        let jn = em.b.ins().iadd_imm_s(jt, 1);
        em.b.def_var(j, jn);
        em.b.ins().jump(tail_head, &[]);
        em.b.switch_to_block(exit);
        let mut accs: Vec<_> = accs.into_iter().collect();
        accs.sort_by_key(|(k, _)| *k);
        for (_, (var, p, o)) in accs {
            let v = em.b.use_var(var);
            em.b.ins().store(mem(), v, p, o);
        }
    }

    /// The body at one element (or `em.lanes` consecutive ones) at loop indices `idx`:
    /// members, stores, reductions.
    fn body(&self, em: &mut Em, idx: &[Value], hoisted: &[Hoisted], accs: &HashMap<usize, (Variable, Value, i32)>) {
        let l = self.layout;
        let (g, nr, nw) = (self.g, l.reads.len(), l.writes.len());
        let mut vals: HashMap<NodeId, Repr> = HashMap::new();
        let mut read_cache: HashMap<NodeId, Repr> = HashMap::new();
        let read_index: HashMap<NodeId, usize> = l.reads.iter().enumerate().map(|(k, r)| (r.node, k)).collect();
        let mut read = |em: &mut Em, a: NodeId| -> Repr {
            if let Some(v) = read_cache.get(&a) {
                return v.clone();
            }
            let k = read_index[&a];
            let rd = &l.reads[k];
            let v = match hoisted[k] {
                Hoisted::Splat(s, v) => match v {
                    Some(v) if em.lanes > 1 => Repr::Vec(v),
                    _ => Repr::Lanes((0..em.lanes).map(|_| s).collect()),
                },
                Hoisted::Walk => self.load(em, k, idx, rd.dtype),
            };
            read_cache.insert(a, v.clone());
            v
        };
        for &m in &self.region.members {
            let v = if is_elementwise(g.op(m)) {
                let args = g.args(m);
                let reprs: SmallVec<[Repr; 3]> = args
                    .iter()
                    .map(|&a| match vals.get(&a) {
                        Some(v) => v.clone(),
                        None => read(em, a),
                    })
                    .collect();
                let dts: SmallVec<[DType; 3]> = args.iter().map(|&a| g.ty(a).dtype).collect();
                em.op(g.op(m), &dts, g.ty(m).dtype, &reprs)
            } else {
                read(em, m)
            };
            vals.insert(m, v);
        }
        for (k, w) in l.writes.iter().enumerate() {
            let v = vals[&w.node].clone();
            self.store(em, nr + k, idx, v, g.ty(w.node).dtype);
        }
        for (k, a) in l.reduces.iter().enumerate() {
            let d = g.ty(a.node).dtype;
            let x = match vals.get(&a.operand) {
                Some(v) => v.clone(),
                None => read(em, a.operand),
            };
            let op = combine(a.op);
            if let Some(&(var, _, _)) = accs.get(&k) {
                let lanes = em.lanes_of(&x, d);
                let mut acc = em.b.use_var(var);
                for x in lanes {
                    acc = em.scalar_binary(op, d, acc, x);
                }
                em.b.def_var(var, acc);
            } else {
                let old = self.load(em, nr + nw + k, idx, d);
                let new = em.op(&crate::ir::Op::Binary(op), &[d, d], d, &[old, x]);
                self.store(em, nr + nw + k, idx, new, d);
            }
        }
    }

    /// Access `k` at `idx`: a vector load where the elements are consecutive floats, else
    /// one load per lane.
    fn load(&self, em: &mut Em, k: usize, idx: &[Value], d: DType) -> Repr {
        let at = self.addr(em, k, idx);
        let stride = self.pats[k].strides[idx.len() - 1];
        let vt = super::ops::vec_ty(d, em.lanes).filter(|_| em.lanes > 1 && d.is_float() && stride == 1);
        match vt {
            Some(t) => {
                let (p, o) = self.lane(em, k, at, 0);
                Repr::Vec(em.b.ins().load(t, mem(), p, o))
            }
            None => Repr::Lanes(
                (0..em.lanes)
                    .map(|i| {
                        let (p, o) = self.lane(em, k, at, i);
                        em.b.ins().load(scalar_ty(d), mem(), p, o)
                    })
                    .collect(),
            ),
        }
    }

    fn store(&self, em: &mut Em, k: usize, idx: &[Value], v: Repr, d: DType) {
        let at = self.addr(em, k, idx);
        let stride = self.pats[k].strides[idx.len() - 1];
        match v {
            Repr::Vec(v) if stride == 1 && d.is_float() => {
                let (p, o) = self.lane(em, k, at, 0);
                em.b.ins().store(mem(), v, p, o);
            }
            v => {
                for (i, x) in em.lanes_of(&v, d).into_iter().enumerate() {
                    let (p, o) = self.lane(em, k, at, i);
                    em.b.ins().store(mem(), x, p, o);
                }
            }
        }
    }
}

/// The binary op a reduction combines elements with.
fn combine(op: ReduceOp) -> BinaryOp {
    match op {
        ReduceOp::Sum => BinaryOp::Add,
        ReduceOp::Prod => BinaryOp::Mul,
        ReduceOp::Max => BinaryOp::Max,
        ReduceOp::Min => BinaryOp::Min,
        ReduceOp::All => BinaryOp::And,
        ReduceOp::Any => BinaryOp::Or,
        ReduceOp::Parity => BinaryOp::Xor,
    }
}

impl Em<'_, '_> {
    pub fn imm(&mut self, imm: Imm) -> Value {
        use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
        match imm {
            Imm::F64(x) => self.b.ins().f64const(Ieee64::with_bits(x.to_bits())),
            Imm::F32(x) => self.b.ins().f32const(Ieee32::with_bits(x.to_bits())),
            Imm::I64(x) => self.b.ins().iconst(types::I64, x),
            Imm::Bool(x) => self.b.ins().iconst(types::I8, x as i64),
        }
    }

    /// A call of the shim `name` (`arity` operands of type `t`, one result of type `t`).
    pub fn call_shim(&mut self, name: &'static str, t: Type, args: &[Value]) -> Value {
        let f = match self.shims.get(name) {
            Some(&f) => f,
            None => {
                let mut sig = self.module.make_signature();
                sig.params.extend(args.iter().map(|_| AbiParam::new(t)));
                sig.returns.push(AbiParam::new(t));
                let id = self
                    .module
                    .declare_function(name, Linkage::Import, &sig)
                    .expect("every shim is declared with one signature");
                let f = self.module.declare_func_in_func(id, self.b.func);
                self.shims.insert(name, f);
                f
            }
        };
        let call = self.b.ins().call(f, args);
        self.b.inst_results(call)[0]
    }
}
