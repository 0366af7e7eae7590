//! The elementwise semantics of [`crate::ir::scalar`] in Cranelift IR: every op on one
//! element (scalar code), and the ops that have exact vector forms on `f64x2` / `f32x4`
//! (arithmetic, comparisons as lane masks, `max`/`min`, `relu`, `sign`, `select`, `powi`,
//! boolean logic on masks, the inline approximations of `polymath.rs`). Everything else in a
//! vector loop — calls to the math shims,
//! integer and conversion work — runs lane by lane on extracted scalars ([`Repr::Lanes`]).
//!
//! Booleans are bytes 0/1 in memory and in scalar code, and all-ones/all-zeros lane masks
//! (`i64x2` / `i32x4`, the result type of a vector `fcmp`) in vector code.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Type, Value};
use gradc_runtime::tensor::DType;
use smallvec::SmallVec;

use super::emit::{scalar_ty, Em};
use super::math;
use crate::ir::{BinaryOp, Op, UnaryOp};

/// A value in the body: one vector, or one scalar per lane.
#[derive(Clone, Debug)]
pub(super) enum Repr {
    Vec(Value),
    Lanes(SmallVec<[Value; 4]>),
}

/// The vector type of an element type at `lanes` lanes, if there is one (masks for `bool`).
pub(super) fn vec_ty(d: DType, lanes: usize) -> Option<Type> {
    match (d, lanes) {
        (DType::F64, 2) => Some(types::F64X2),
        (DType::F32, 4) => Some(types::F32X4),
        (DType::Bool, 2) => Some(types::I64X2),
        (DType::Bool, 4) => Some(types::I32X4),
        _ => None,
    }
}

/// Whether `op` on operands of element type `d` calls a math shim (on its hot path: the
/// inline forms of `polymath.rs` call one only for rare out-of-range arguments).
pub(super) fn calls(op: &Op, d: DType, exact_math: bool) -> bool {
    match op {
        Op::Unary(u) => math::unary(*u, d).is_some() && (exact_math || !super::polymath::inline(*u, d)),
        Op::Binary(b) => math::binary(*b, d).is_some() && (exact_math || !pow_inline(*b, d)),
        _ => false,
    }
}

/// Whether the binary op `b` on `d` is the inline `pow` of `polypow.rs` (unless `exact_math`).
fn pow_inline(b: BinaryOp, d: DType) -> bool {
    super::polypow::binary_ulp_bound(b, d).is_some()
}

pub(super) fn little() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

impl Em<'_, '_> {
    /// `op` (elementwise) on operands of element types `dts`, giving element type `out`.
    pub fn op(&mut self, op: &Op, dts: &[DType], out: DType, args: &[Repr]) -> Repr {
        if self.lanes > 1 && args.iter().any(|a| matches!(a, Repr::Vec(_))) {
            if let Some(v) = self.vector_op(op, dts, out, args) {
                return Repr::Vec(v);
            }
        }
        let lanes: SmallVec<[SmallVec<[Value; 4]>; 3]> =
            args.iter().zip(dts).map(|(a, &d)| self.lanes_of(a, d)).collect();
        Repr::Lanes(
            (0..self.lanes)
                .map(|i| {
                    let xs: SmallVec<[Value; 3]> = lanes.iter().map(|l| l[i]).collect();
                    self.scalar_op(op, dts, out, &xs)
                })
                .collect(),
        )
    }

    /// One scalar per lane.
    pub fn lanes_of(&mut self, r: &Repr, d: DType) -> SmallVec<[Value; 4]> {
        match r {
            Repr::Lanes(l) => l.clone(),
            Repr::Vec(v) => (0..self.lanes)
                .map(|i| {
                    let x = self.b.ins().extractlane(*v, i as u8);
                    if d == DType::Bool {
                        let bit = self.b.ins().band_imm_s(x, 1);
                        self.b.ins().ireduce(types::I8, bit)
                    } else {
                        x
                    }
                })
                .collect(),
        }
    }

    /// The vector of a value, if its element type has one at these lanes.
    fn vec_of(&mut self, r: &Repr, d: DType) -> Option<Value> {
        let t = vec_ty(d, self.lanes)?;
        Some(match r {
            Repr::Vec(v) => *v,
            Repr::Lanes(l) => {
                let l: SmallVec<[Value; 4]> = if d == DType::Bool {
                    l.iter()
                        .map(|&x| {
                            let w = self.b.ins().uextend(t.lane_type(), x);
                            self.b.ins().ineg(w)
                        })
                        .collect()
                } else {
                    l.clone()
                };
                if l.iter().all(|&x| x == l[0]) {
                    self.b.ins().splat(t, l[0])
                } else {
                    let mut v = self.b.ins().scalar_to_vector(t, l[0]);
                    for (i, &x) in l.iter().enumerate().skip(1) {
                        v = self.b.ins().insertlane(v, x, i as u8);
                    }
                    v
                }
            }
        })
    }

    fn fconst(&mut self, d: DType, x: f64) -> Value {
        match d {
            DType::F64 => self.b.ins().f64const(Ieee64::with_bits(x.to_bits())),
            _ => self.b.ins().f32const(Ieee32::with_bits((x as f32).to_bits())),
        }
    }

    fn vconst(&mut self, d: DType, x: f64) -> Value {
        let s = self.fconst(d, x);
        let t = vec_ty(d, self.lanes).expect("a float vector type");
        self.b.ins().splat(t, s)
    }

    /// A lane mask as the float vector type of `d`, for `bitselect`.
    fn as_float_mask(&mut self, mask: Value, d: DType) -> Value {
        let t = vec_ty(d, self.lanes).expect("a float vector type");
        self.b.ins().bitcast(t, little(), mask)
    }

    fn vector_op(&mut self, op: &Op, dts: &[DType], out: DType, args: &[Repr]) -> Option<Value> {
        use BinaryOp as B;
        use UnaryOp as U;
        let d = dts[0];
        let ok = dts.iter().chain(std::iter::once(&out)).all(|&t| vec_ty(t, self.lanes).is_some());
        if !ok {
            return None;
        }
        let float = d.is_float();
        // Decide before emitting anything whether there is a vector form.
        let supported = match op {
            Op::Unary(u) => {
                (float && matches!(u, U::Neg | U::Abs | U::Sqrt | U::Floor | U::Ceil | U::Relu | U::Sign))
                    || (float && !self.exact_math && super::polymath::inline(*u, d))
                    || (d == DType::Bool && *u == U::Not)
            }
            Op::Binary(b) => {
                (float && !matches!(b, B::Rem | B::Pow | B::And | B::Or | B::Xor))
                    || (float && !self.exact_math && pow_inline(*b, d))
                    || (d == DType::Bool && matches!(b, B::And | B::Or | B::Xor | B::Eq | B::Ne))
            }
            Op::PowInt(_) => float,
            Op::Select => true,
            Op::Convert { to } => d == *to || (float && *to == DType::Bool),
            _ => false,
        };
        if !supported {
            return None;
        }
        let xs: SmallVec<[Value; 3]> =
            args.iter().zip(dts).map(|(a, &t)| self.vec_of(a, t).expect("checked")).collect();
        let x = xs[0];
        Some(match op {
            Op::Unary(u) => match u {
                U::Neg => self.b.ins().fneg(x),
                U::Abs => self.b.ins().fabs(x),
                U::Sqrt => self.b.ins().sqrt(x),
                U::Floor => self.b.ins().floor(x),
                U::Ceil => self.b.ins().ceil(x),
                U::Not => self.b.ins().bnot(x),
                U::Relu => {
                    let z = self.vconst(d, 0.0);
                    let c = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, x, z);
                    let c = self.as_float_mask(c, d);
                    self.b.ins().bitselect(c, x, z)
                }
                U::Sign => {
                    let z = self.vconst(d, 0.0);
                    let one = self.vconst(d, 1.0);
                    let minus = self.vconst(d, -1.0);
                    let lt = self.b.ins().fcmp(FloatCC::LessThan, x, z);
                    let gt = self.b.ins().fcmp(FloatCC::GreaterThan, x, z);
                    let (lt, gt) = (self.as_float_mask(lt, d), self.as_float_mask(gt, d));
                    let t = self.b.ins().bitselect(lt, minus, x);
                    self.b.ins().bitselect(gt, one, t)
                }
                _ => self.fast_unary(*u, x).expect("checked above"),
            },
            Op::Binary(b) => {
                let y = xs[1];
                if d == DType::Bool {
                    return Some(match b {
                        B::And => self.b.ins().band(x, y),
                        B::Or => self.b.ins().bor(x, y),
                        B::Xor | B::Ne => self.b.ins().bxor(x, y),
                        _ => {
                            let e = self.b.ins().bxor(x, y);
                            self.b.ins().bnot(e)
                        }
                    });
                }
                match b {
                    B::Add => self.b.ins().fadd(x, y),
                    B::Sub => self.b.ins().fsub(x, y),
                    B::Mul => self.b.ins().fmul(x, y),
                    B::Div => self.b.ins().fdiv(x, y),
                    B::Pow => self.fast_pow(x, y),
                    B::Max | B::Min => {
                        let cc = if *b == B::Max { FloatCC::GreaterThanOrEqual } else { FloatCC::LessThanOrEqual };
                        let first = self.b.ins().fcmp(cc, x, y);
                        let first = self.as_float_mask(first, d);
                        let r = self.b.ins().bitselect(first, x, y);
                        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, y);
                        let nan = self.as_float_mask(nan, d);
                        let q = self.vconst(d, f64::NAN);
                        self.b.ins().bitselect(nan, q, r)
                    }
                    cmp => self.b.ins().fcmp(float_cc(*cmp), x, y),
                }
            }
            Op::PowInt(n) => {
                let one = self.vconst(d, 1.0);
                self.powi(x, one, *n, |em, a, b| em.b.ins().fmul(a, b), |em, a, b| em.b.ins().fdiv(a, b))
            }
            Op::Select => {
                // A float select needs the mask as its operands' vector type.
                let c = if dts[1].is_float() { self.as_float_mask(x, dts[1]) } else { x };
                self.b.ins().bitselect(c, xs[1], xs[2])
            }
            Op::Convert { to } if *to == d => x,
            Op::Convert { .. } => {
                let z = self.vconst(d, 0.0);
                self.b.ins().fcmp(FloatCC::NotEqual, x, z)
            }
            _ => unreachable!("checked above"),
        })
    }

    /// `x^n` by the interpreter's binary exponentiation (every product rounded).
    fn powi(
        &mut self,
        x: Value,
        one: Value,
        n: i64,
        mul: impl Fn(&mut Self, Value, Value) -> Value,
        div: impl Fn(&mut Self, Value, Value) -> Value,
    ) -> Value {
        let (mut acc, mut base, mut e) = (one, x, n.unsigned_abs());
        while e > 0 {
            if e & 1 == 1 {
                acc = mul(self, acc, base);
            }
            e >>= 1;
            if e > 0 {
                base = mul(self, base, base);
            }
        }
        if n < 0 {
            div(self, one, acc)
        } else {
            acc
        }
    }

    /// `op` on one element.
    pub fn scalar_op(&mut self, op: &Op, dts: &[DType], out: DType, xs: &[Value]) -> Value {
        let d = dts[0];
        let v = match op {
            Op::Unary(u) => self.scalar_unary(*u, d, xs[0]),
            Op::Binary(b) => self.scalar_binary(*b, d, xs[0], xs[1]),
            Op::PowInt(n) => {
                let one = self.fconst(d, 1.0);
                self.powi(xs[0], one, *n, |em, a, b| em.b.ins().fmul(a, b), |em, a, b| em.b.ins().fdiv(a, b))
            }
            Op::Select => self.b.ins().select(xs[0], xs[1], xs[2]),
            Op::Convert { to } => self.convert(d, *to, xs[0]),
            _ => unreachable!("only elementwise ops are region members: {}", op.name()),
        };
        debug_assert_eq!(self.b.func.dfg.value_type(v), scalar_ty(out));
        v
    }

    fn scalar_unary(&mut self, u: UnaryOp, d: DType, x: Value) -> Value {
        use UnaryOp as U;
        match d {
            DType::F64 | DType::F32 => match u {
                U::Neg => self.b.ins().fneg(x),
                U::Abs => self.b.ins().fabs(x),
                U::Sqrt => self.b.ins().sqrt(x),
                U::Floor => self.b.ins().floor(x),
                U::Ceil => self.b.ins().ceil(x),
                U::Relu => {
                    let z = self.fconst(d, 0.0);
                    let c = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, x, z);
                    self.b.ins().select(c, x, z)
                }
                U::Sign => {
                    let z = self.fconst(d, 0.0);
                    let one = self.fconst(d, 1.0);
                    let minus = self.fconst(d, -1.0);
                    let lt = self.b.ins().fcmp(FloatCC::LessThan, x, z);
                    let gt = self.b.ins().fcmp(FloatCC::GreaterThan, x, z);
                    let t = self.b.ins().select(lt, minus, x);
                    self.b.ins().select(gt, one, t)
                }
                _ if !self.exact_math && super::polymath::inline(u, d) => self.fast_unary(u, x).expect("inline"),
                _ => {
                    let name = math::unary(u, d).unwrap_or_else(|| panic!("`{}` is not defined on {d}", u.name()));
                    self.call_shim(name, scalar_ty(d), &[x])
                }
            },
            DType::I64 => match u {
                U::Neg => self.b.ins().ineg(x),
                U::Abs => {
                    let n = self.b.ins().ineg(x);
                    let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                    self.b.ins().select(neg, n, x)
                }
                U::Sign => {
                    let one = self.b.ins().iconst(types::I64, 1);
                    let minus = self.b.ins().iconst(types::I64, -1);
                    let lt = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                    let gt = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, x, 0);
                    let t = self.b.ins().select(lt, minus, x);
                    self.b.ins().select(gt, one, t)
                }
                _ => panic!("`{}` is not defined on i64", u.name()),
            },
            DType::Bool => self.b.ins().bxor_imm_s(x, 1),
        }
    }

    pub fn scalar_binary(&mut self, op: BinaryOp, d: DType, a: Value, b: Value) -> Value {
        use BinaryOp as B;
        match d {
            DType::F64 | DType::F32 => match op {
                B::Add => self.b.ins().fadd(a, b),
                B::Sub => self.b.ins().fsub(a, b),
                B::Mul => self.b.ins().fmul(a, b),
                B::Div => self.b.ins().fdiv(a, b),
                B::Pow if !self.exact_math && pow_inline(op, d) => self.fast_pow(a, b),
                B::Rem | B::Pow => {
                    let name = math::binary(op, d).expect("a float shim");
                    self.call_shim(name, scalar_ty(d), &[a, b])
                }
                B::Max | B::Min => {
                    let cc = if op == B::Max { FloatCC::GreaterThanOrEqual } else { FloatCC::LessThanOrEqual };
                    let first = self.b.ins().fcmp(cc, a, b);
                    let r = self.b.ins().select(first, a, b);
                    let nan = self.b.ins().fcmp(FloatCC::Unordered, a, b);
                    let q = self.fconst(d, f64::NAN);
                    self.b.ins().select(nan, q, r)
                }
                cmp => self.b.ins().fcmp(float_cc(cmp), a, b),
            },
            DType::I64 => match op {
                B::Add => self.b.ins().iadd(a, b),
                B::Sub => self.b.ins().isub(a, b),
                B::Mul => self.b.ins().imul(a, b),
                B::Div | B::Rem => self.int_div(op, a, b),
                B::Max | B::Min => {
                    let cc = if op == B::Max { IntCC::SignedGreaterThanOrEqual } else { IntCC::SignedLessThanOrEqual };
                    let first = self.b.ins().icmp(cc, a, b);
                    self.b.ins().select(first, a, b)
                }
                cmp => self.b.ins().icmp(int_cc(cmp), a, b),
            },
            DType::Bool => match op {
                B::And => self.b.ins().band(a, b),
                B::Or => self.b.ins().bor(a, b),
                B::Xor => self.b.ins().bxor(a, b),
                B::Eq => self.b.ins().icmp(IntCC::Equal, a, b),
                B::Ne => self.b.ins().icmp(IntCC::NotEqual, a, b),
                _ => panic!("`{}` is not defined on bool", op.name()),
            },
        }
    }

    /// Wrapping `i64` division or remainder that never traps: a zero divisor sets the status
    /// flag (and divides by 1); `-1` is done as a negation (`i64::MIN / -1` wraps).
    fn int_div(&mut self, op: BinaryOp, a: Value, b: Value) -> Value {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let (fail, go_on) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(fail);
        self.b.ins().brif(zero, fail, &[], go_on, &[]);
        self.b.switch_to_block(fail);
        let flag = self.b.ins().iconst(types::I64, 1);
        self.b.ins().store(super::emit::mem(), flag, self.status, 0);
        self.b.ins().jump(go_on, &[]);
        self.b.switch_to_block(go_on);
        let one = self.b.ins().iconst(types::I64, 1);
        let minus = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
        let bad = self.b.ins().bor(zero, minus);
        let safe = self.b.ins().select(bad, one, b);
        if op == BinaryOp::Div {
            let q = self.b.ins().sdiv(a, safe);
            let n = self.b.ins().ineg(a);
            self.b.ins().select(minus, n, q)
        } else {
            let r = self.b.ins().srem(a, safe);
            let z = self.b.ins().iconst(types::I64, 0);
            self.b.ins().select(minus, z, r)
        }
    }

    /// Rust's `as` between element types (see the scalar doc).
    fn convert(&mut self, from: DType, to: DType, x: Value) -> Value {
        use DType::*;
        match (from, to) {
            (a, b) if a == b => x,
            (F64, F32) => self.b.ins().fdemote(types::F32, x),
            (F32, F64) => self.b.ins().fpromote(types::F64, x),
            (F64 | F32, I64) => self.b.ins().fcvt_to_sint_sat(types::I64, x),
            (I64, F64 | F32) => self.b.ins().fcvt_from_sint(scalar_ty(to), x),
            (F64 | F32, Bool) => {
                let z = self.fconst(from, 0.0);
                self.b.ins().fcmp(FloatCC::NotEqual, x, z)
            }
            (I64, Bool) => self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0),
            (Bool, I64) => self.b.ins().uextend(types::I64, x),
            (Bool, F64 | F32) => {
                let w = self.b.ins().uextend(types::I64, x);
                self.b.ins().fcvt_from_sint(scalar_ty(to), w)
            }
            _ => unreachable!("every pair is covered"),
        }
    }
}

fn float_cc(op: BinaryOp) -> FloatCC {
    match op {
        BinaryOp::Eq => FloatCC::Equal,
        BinaryOp::Ne => FloatCC::NotEqual,
        BinaryOp::Lt => FloatCC::LessThan,
        BinaryOp::Le => FloatCC::LessThanOrEqual,
        BinaryOp::Gt => FloatCC::GreaterThan,
        BinaryOp::Ge => FloatCC::GreaterThanOrEqual,
        _ => panic!("`{}` is not a comparison", op.name()),
    }
}

fn int_cc(op: BinaryOp) -> IntCC {
    match op {
        BinaryOp::Eq => IntCC::Equal,
        BinaryOp::Ne => IntCC::NotEqual,
        BinaryOp::Lt => IntCC::SignedLessThan,
        BinaryOp::Le => IntCC::SignedLessThanOrEqual,
        BinaryOp::Gt => IntCC::SignedGreaterThan,
        BinaryOp::Ge => IntCC::SignedGreaterThanOrEqual,
        _ => panic!("`{}` is not a comparison", op.name()),
    }
}
