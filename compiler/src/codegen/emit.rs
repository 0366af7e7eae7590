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

use cranelift_codegen::ir::{types, AbiParam, FuncRef, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
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
}

/// Per access (reads, then writes, then reduces): the element offset at the current level.
type Offsets = Vec<Value>;

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

/// Emits the whole function body of `region` into `b` (whose signature is the kernel ABI).
pub(super) fn region_body(mut b: FunctionBuilder<'_>, module: &mut JITModule, g: &Graph, plan: &Plan, r: usize, layout: &Layout) {
    let config = module.target_config();
    let b = {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let mut em = Em { b, module, shims: HashMap::new(), status: params[3], lanes: 1 };
        let bases: Vec<Value> = (0..layout.slots.len())
            .map(|k| em.b.ins().load(types::I64, MemFlagsData::trusted(), params[0], (8 * k) as i32))
            .collect();
        let nest = Nest { g, region: &plan.regions[r], layout, bases };
        let offs: Offsets = nest.initial_offsets(&mut em);
        nest.level(&mut em, 0, &offs, params[1], params[2]);
        em.b.ins().return_(&[]);
        em.b.seal_all_blocks();
        em.b
    };
    b.finalize(config);
}

struct Nest<'p> {
    g: &'p Graph,
    region: &'p Region,
    layout: &'p Layout,
    bases: Vec<Value>,
}

/// What the body reads for an external node at the current element.
#[derive(Clone, Copy)]
enum Hoisted {
    /// A splat: loaded once per inner loop (scalar, and vector if it has a vector type).
    Splat(Value, Option<Value>),
    Walk,
}

impl Nest<'_> {
    fn initial_offsets(&self, em: &mut Em) -> Offsets {
        let l = self.layout;
        let mut v = Vec::new();
        for r in &l.reads {
            v.push(em.b.ins().iconst(types::I64, r.offset as i64));
        }
        let zero = em.b.ins().iconst(types::I64, 0);
        v.extend(std::iter::repeat_n(zero, l.writes.len() + l.reduces.len()));
        v
    }

    /// The strides of every access at loop level `lvl`, in [`Offsets`] order.
    fn strides(&self, lvl: usize) -> Vec<usize> {
        let l = self.layout;
        l.reads
            .iter()
            .map(|r| r.strides[lvl])
            .chain(l.writes.iter().map(|w| w.strides[lvl]))
            .chain(l.reduces.iter().map(|a| a.strides[lvl]))
            .collect()
    }

    fn advance(&self, em: &mut Em, offs: &Offsets, lvl: usize, i: Value) -> Offsets {
        self.strides(lvl)
            .iter()
            .zip(offs)
            .map(|(&s, &o)| match s {
                0 => o,
                1 => em.b.ins().iadd(o, i),
                s => {
                    let d = em.b.ins().imul_imm_s(i, s as i64);
                    em.b.ins().iadd(o, d)
                }
            })
            .collect()
    }

    fn level(&self, em: &mut Em, lvl: usize, offs: &Offsets, lo: Value, hi: Value) {
        if lvl + 1 == self.layout.dims.len() {
            return self.inner(em, lvl, offs, lo, hi);
        }
        let i = em.b.declare_var(types::I64);
        em.b.def_var(i, lo);
        let (header, body, exit) = (em.b.create_block(), em.b.create_block(), em.b.create_block());
        em.b.ins().jump(header, &[]);
        em.b.switch_to_block(header);
        let iv = em.b.use_var(i);
        let go = em.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, iv, hi);
        em.b.ins().brif(go, body, &[], exit, &[]);
        em.b.switch_to_block(body);
        let inner = self.advance(em, offs, lvl, iv);
        let zero = em.b.ins().iconst(types::I64, 0);
        let end = em.b.ins().iconst(types::I64, self.layout.dims[lvl + 1] as i64);
        self.level(em, lvl + 1, &inner, zero, end);
        let next = em.b.ins().iadd_imm_s(iv, 1);
        em.b.def_var(i, next);
        em.b.ins().jump(header, &[]);
        em.b.switch_to_block(exit);
    }

    fn inner(&self, em: &mut Em, lvl: usize, offs: &Offsets, lo: Value, hi: Value) {
        use cranelift_codegen::ir::condcodes::IntCC;
        let l = self.layout;
        let strides = self.strides(lvl);
        let nr = l.reads.len();
        let nw = l.writes.len();
        // Splats, loaded once.
        let mut hoisted = Vec::with_capacity(nr);
        for (k, rd) in l.reads.iter().enumerate() {
            hoisted.push(if rd.imm.is_some() || strides[k] == 0 {
                let s = match rd.imm {
                    Some(imm) => em.imm(imm),
                    None => {
                        let a = self.addr(em, rd.slot, offs[k], rd.dtype);
                        em.b.ins().load(scalar_ty(rd.dtype), mem(), a, 0)
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
            if strides[nr + nw + k] == 0 {
                let d = self.g.ty(a.node).dtype;
                let var = em.b.declare_var(scalar_ty(d));
                let p = self.addr(em, a.slot, offs[nr + nw + k], d);
                let v = em.b.ins().load(scalar_ty(d), mem(), p, 0);
                em.b.def_var(var, v);
                accs.insert(k, var);
            }
        }
        let j = em.b.declare_var(types::I64);
        em.b.def_var(j, lo);
        let (tail_head, tail_body, exit) = (em.b.create_block(), em.b.create_block(), em.b.create_block());
        if l.lanes > 1 {
            let (vec_head, vec_body) = (em.b.create_block(), em.b.create_block());
            em.b.ins().jump(vec_head, &[]);
            em.b.switch_to_block(vec_head);
            let jv = em.b.use_var(j);
            let jn = em.b.ins().iadd_imm_s(jv, l.lanes as i64);
            let go = em.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, jn, hi);
            em.b.ins().brif(go, vec_body, &[], tail_head, &[]);
            em.b.switch_to_block(vec_body);
            let at = self.advance(em, offs, lvl, jv);
            em.lanes = l.lanes;
            self.body(em, &at, &strides, &hoisted, &accs);
            em.lanes = 1;
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
        let at = self.advance(em, offs, lvl, jt);
        self.body(em, &at, &strides, &hoisted, &accs);
        let jn = em.b.ins().iadd_imm_s(jt, 1);
        em.b.def_var(j, jn);
        em.b.ins().jump(tail_head, &[]);
        em.b.switch_to_block(exit);
        for (&k, &var) in &accs {
            let a = &l.reduces[k];
            let d = self.g.ty(a.node).dtype;
            let p = self.addr(em, a.slot, offs[nr + nw + k], d);
            let v = em.b.use_var(var);
            em.b.ins().store(mem(), v, p, 0);
        }
    }

    /// The address of element `off` of slot `slot`.
    fn addr(&self, em: &mut Em, slot: usize, off: Value, d: DType) -> Value {
        let bytes = em.b.ins().imul_imm_s(off, d.size() as i64);
        em.b.ins().iadd(self.bases[slot], bytes)
    }

    /// The lanes' addresses from the first one, `stride` elements apart.
    fn lane_addrs(&self, em: &mut Em, first: Value, stride: usize, d: DType) -> SmallVec<[(Value, i32); 4]> {
        (0..em.lanes).map(|i| (first, (i * stride * d.size()) as i32)).collect()
    }

    /// The body at one element (or `em.lanes` consecutive ones): members, stores, reductions.
    fn body(&self, em: &mut Em, offs: &Offsets, strides: &[usize], hoisted: &[Hoisted], accs: &HashMap<usize, cranelift_frontend::Variable>) {
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
                Hoisted::Walk => {
                    let first = self.addr(em, rd.slot, offs[k], rd.dtype);
                    let vt = super::ops::vec_ty(rd.dtype, em.lanes).filter(|_| em.lanes > 1 && rd.dtype.is_float());
                    match vt {
                        Some(t) if strides[k] == 1 => Repr::Vec(em.b.ins().load(t, mem(), first, 0)),
                        _ => {
                            let addrs = self.lane_addrs(em, first, strides[k], rd.dtype);
                            Repr::Lanes(addrs.iter().map(|&(p, o)| em.b.ins().load(scalar_ty(rd.dtype), mem(), p, o)).collect())
                        }
                    }
                }
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
            let d = g.ty(w.node).dtype;
            let first = self.addr(em, w.slot, offs[nr + k], d);
            let v = vals[&w.node].clone();
            self.store(em, v, first, 1, d);
        }
        for (k, a) in l.reduces.iter().enumerate() {
            let d = g.ty(a.node).dtype;
            let x = match vals.get(&a.operand) {
                Some(v) => v.clone(),
                None => read(em, a.operand),
            };
            let op = combine(a.op);
            if let Some(&var) = accs.get(&k) {
                let lanes = em.lanes_of(&x, d);
                let mut acc = em.b.use_var(var);
                for x in lanes {
                    acc = em.scalar_binary(op, d, acc, x);
                }
                em.b.def_var(var, acc);
            } else {
                let first = self.addr(em, a.slot, offs[nr + nw + k], d);
                let s = strides[nr + nw + k];
                let vt = super::ops::vec_ty(d, em.lanes).filter(|_| em.lanes > 1 && d.is_float() && s == 1);
                let old = match vt {
                    Some(t) => Repr::Vec(em.b.ins().load(t, mem(), first, 0)),
                    None => {
                        let addrs = self.lane_addrs(em, first, s, d);
                        Repr::Lanes(addrs.iter().map(|&(p, o)| em.b.ins().load(scalar_ty(d), mem(), p, o)).collect())
                    }
                };
                let new = em.op(&crate::ir::Op::Binary(op), &[d, d], d, &[old, x]);
                self.store(em, new, first, s, d);
            }
        }
    }

    fn store(&self, em: &mut Em, v: Repr, first: Value, stride: usize, d: DType) {
        match v {
            Repr::Vec(v) if stride == 1 && d.is_float() => {
                em.b.ins().store(mem(), v, first, 0);
            }
            v => {
                let lanes = em.lanes_of(&v, d);
                let addrs = self.lane_addrs(em, first, stride, d);
                for (x, (p, o)) in lanes.into_iter().zip(addrs) {
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
