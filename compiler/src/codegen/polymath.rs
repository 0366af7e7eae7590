//! Inline, vectorizable approximations of the transcendental functions, emitted as Cranelift
//! IR: no calls on the hot path, the same instructions on a scalar (`f64`/`f32`) and on a
//! vector (`f64x2`/`f32x4`) operand, so the vector loop and the scalar tail give the same
//! bits lane for lane. Used unless [`Options::exact_math`](super::Options::exact_math)
//! asks for the interpreter's libm calls (the shims of `math.rs`).
//!
//! # Methods
//!
//! All the work is in `f64`. An `f32` operand is widened (`fpromote` / `fvpromote_low`, two
//! halves for `f32x4`), computed by the `f64` code and rounded back once (`fdemote` /
//! `fvdemote`): the `f64` error (a few 2⁻⁵³) is far below half an `f32` ulp, so the `f32`
//! results are the correctly rounded ones except in rare double-rounding cases.
//! No fused multiply-add is used (the result must not depend on the CPU).
//! Integers come out of floats and go back in through the "magic number" `1.5·2⁵²`
//! (`t = x + 1.5·2⁵²` holds `round(x)` in its low mantissa bits), so no float/int
//! conversion instruction is needed (x86-64 has none for `i64x2` before AVX-512).
//!
//! - `exp`: `x` clamped to ±1200 (NaN passes); `k = round(x/ln 2)`; Cody–Waite
//!   `r = (x − k·ln2_hi) − k·ln2_lo` with the fdlibm split of ln 2 (`ln2_hi` has 32
//!   significant bits, so `k·ln2_hi` is exact); `|r| ≤ ln2/2`; `e^r = 1 + r + r²·q(r)`
//!   with `q` the Taylor polynomial to degree 13 (truncation below 2⁻⁵⁷), the rounding
//!   error of `1 + r` recovered (Fast2Sum) and added to `r²·q` before the last sum; scaled by
//!   `2^k1 · 2^k2`, `k = k1 + k2`, each factor built from its exponent bits, so overflow
//!   gives `inf`, and results in the subnormal range are rounded once.
//! - `log`: subnormals scaled by 2⁵⁴ first; `x = 2^e·m`, `m ∈ [√2/2, √2)` by integer
//!   operations on the bits; `f = m − 1`, `s = f/(2 + f)`,
//!   `log(1+f) = f − f²/2 + s·(f²/2 + R(s²))` with R fdlibm's minimax polynomial
//!   (`e_log.c`, Lg1…Lg7, |error| < 2⁻⁵⁸·⁴⁵); `e·ln 2` added in two parts. `log(±0) = −inf`,
//!   `log(x < 0) = NaN`, `log(inf) = inf`, NaN propagates.
//! - `sin`, `cos`: `k = round(x·2/π)`, four-part Cody–Waite reduction
//!   `r = x − k·P1 − k·P2 − k·P3 − k·P3t` (fdlibm's `pio2_1`, `pio2_2`, `pio2_3` of 33 bits and
//!   the tail `pio2_3t`, so every `k·Pi` but the last is exact for `|k| < 2²⁰`); the kernels
//!   are fdlibm's minimax polynomials on `[−π/4, π/4]` (`k_sin.c` S1…S6, `k_cos.c` C1…C6),
//!   the quadrant `k mod 4` picks the kernel and the sign. `|x| < 2⁻²⁶` gives `sin x = x`
//!   (so `sin(−0) = −0`, subnormals exact). **Beyond `|x| ≥ 2²⁰`, and for inf and NaN, the
//!   exact libm shim is called**: if any lane of a vector is out of range, a cold block
//!   computes those lanes through the shims.
//! - `tan`: the same reduction and kernels, `sin r / cos r` or `−cos r / sin r` by quadrant.
//! - `tanh`: `|x| < 2⁻²⁶`: `x`; `|x| < 0.625`: Cephes' rational form
//!   `x + x·z·P(z)/Q(z)`, `z = x²` (`tanh.c`); otherwise `1 − 2/(e^{2|x|} + 1)` with the
//!   inline `exp` and the sign of `x` (so `tanh(±inf) = ±1`).
//! - `sigmoid`: the interpreter's stable form on the inline `exp`: `e = exp(−|x|)`,
//!   `1/(1 + e)` for `x ≥ 0`, `e/(1 + e)` otherwise.
//!
//! # Bounds
//!
//! [`ulp_bound`] is the contract, in ulps of the result measured against the interpreter's
//! libm functions ([`crate::ir::scalar`]), checked on ≥ 10⁶ inputs per function and dtype
//! (special values, subnormals, huge arguments, dense samples around the reduction
//! boundaries) by `compiler/tests/polymath.rs`, which prints the maximum it finds.
//! Special values (±0 with its sign where libm keeps it, ±inf, NaN, overflow to inf,
//! underflow to 0) are exact. Near the bottom of the subnormal range an ulp is huge
//! relative to the value; the bound is still in those ulps.
//!
//! | function | f64 bound (measured) | f32 bound (measured) |
//! |----------|----------------------|----------------------|
//! | exp      | 2 ulp (1)            | 1 ulp (1)            |
//! | log      | 2 ulp (1)            | 1 ulp (1)            |
//! | sin, cos | 3 ulp (2)            | 1 ulp (1)            |
//! | tan      | 5 ulp (4)            | 1 ulp (1)            |
//! | tanh     | 4 ulp (2)            | 2 ulp (2)            |
//! | sigmoid  | 4 ulp (2)            | 2 ulp (2)            |
//!
//! The f32 errors are mostly libm's own: the f32 results here are within 0.5 ulp plus
//! about 2⁻²⁹ ulp of the true values; the reference `tanhf` and the reference sigmoid
//! (which rounds three times in f32) are not correctly rounded.
//!
//! References: W. J. Cody and W. Waite, *Software Manual for the Elementary Functions*
//! (1980) for the reductions; Sun's fdlibm (`e_log.c`, `k_sin.c`, `k_cos.c`, `e_rem_pio2.c`)
//! for the log, sin and cos minimax coefficients and the split constants of ln 2 and π/2;
//! S. L. Moshier's Cephes (`tanh.c`) for the tanh rational coefficients. The code here is
//! written from those descriptions; only the published constants are taken.

// The published coefficients are quoted digit for digit, as their sources print them.
#![allow(clippy::excessive_precision)]

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{types, InstBuilder, Type, Value};
use gradc_runtime::tensor::DType;

use super::emit::Em;
use super::math;
use super::ops::little;
use crate::ir::UnaryOp;

/// The documented error bound (ulps against libm) of the inline form of `u` on `d`, or
/// `None` if `u` has no inline form (the JIT calls the exact shim).
pub fn ulp_bound(u: UnaryOp, d: DType) -> Option<u64> {
    use UnaryOp as U;
    let f64_bound = match u {
        U::Exp | U::Log => 2,
        U::Sin | U::Cos => 3,
        U::Tanh | U::Sigmoid => 4,
        U::Tan => 5,
        _ => return None,
    };
    match d {
        DType::F64 => Some(f64_bound),
        // The f32 references are not all correctly rounded: sigmoid rounds three times in
        // f32, and libm's tanhf is measured 1 ulp off (our f64-computed value is within
        // 0.5 ulp + 2^-29 of the true one).
        DType::F32 if matches!(u, U::Sigmoid | U::Tanh) => Some(2),
        DType::F32 => Some(1),
        _ => None,
    }
}

/// Whether `u` on `d` has an inline form.
pub(super) fn inline(u: UnaryOp, d: DType) -> bool {
    ulp_bound(u, d).is_some()
}

const SHIFT: f64 = 6755399441055744.0; // 1.5 · 2^52
const SHIFT_BITS: i64 = 0x4338_0000_0000_0000;
const SIGN: i64 = i64::MIN;

// exp: fdlibm's split of ln 2 (e_exp.c).
const INV_LN2: f64 = std::f64::consts::LOG2_E;
const LN2_HI: u64 = 0x3fe6_2e42_fee0_0000;
const LN2_LO: u64 = 0x3dea_39ef_3579_3c76;
const EXP_CLAMP: f64 = 1200.0;

// log: fdlibm e_log.c minimax coefficients of R(z) ≈ (log(1+f) - f + f²/2)/s - f²/2 ... in z = s².
const LG: [f64; 7] = [
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
];
const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd;

// sin/cos: fdlibm e_rem_pio2.c's π/2 in 33-bit parts and a tail; k_sin.c and k_cos.c.
const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
const PIO2_1: u64 = 0x3ff9_21fb_5440_0000;
const PIO2_2: u64 = 0x3dd0_b461_1a60_0000;
const PIO2_3: u64 = 0x3ba3_198a_2e00_0000;
const PIO2_3T: u64 = 0x397b_839a_2520_49c1;
const S: [f64; 6] = [
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
];
const C: [f64; 6] = [
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
];
/// Up to this `|x|` sin, cos and tan reduce inline; from it on (and inf, NaN) the shim.
const TRIG_MAX: f64 = 1048576.0; // 2^20

// tanh: Cephes tanh.c, |x| < 0.625.
// P from the constant term up (Cephes lists it highest first); Q monic, highest first.
const TANH_P: [f64; 3] = [-1.61468768441708447952e3, -9.92877231001918586564e1, -9.64399179425052238628e-1];
const TANH_Q: [f64; 3] = [1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3];

/// Below this `|x|`, `sin x`, `tan x` and `tanh x` round to `x`.
const TINY: f64 = 1.4901161193847656e-8; // 2^-26

fn f(bits: u64) -> f64 {
    f64::from_bits(bits)
}

/// Emitting in the `f64` domain, on a scalar `f64` or a vector `f64x2`.
impl Em<'_, '_> {
    /// `u` of `x` (scalar or vector, `f64` or `f32` lanes) inline; `None` if `u` has no
    /// inline form.
    pub fn fast_unary(&mut self, u: UnaryOp, x: Value) -> Option<Value> {
        let ty = self.b.func.dfg.value_type(x);
        let d = if ty.lane_type() == types::F64 { DType::F64 } else { DType::F32 };
        if !inline(u, d) {
            return None;
        }
        if !matches!(u, UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Tan) {
            return Some(self.widened(u, x));
        }
        // Inline; where a lane is out of range (rare, a cold block), that lane through the
        // shim. A lane's result never depends on the other lanes.
        let v = self.widened(u, x);
        let a = self.b.ins().fabs(x);
        let lim = self.splat_f(ty, TRIG_MAX);
        let in_range = self.b.ins().fcmp(FloatCC::LessThan, a, lim);
        let ok = if ty.is_vector() { self.b.ins().vall_true(in_range) } else { in_range };
        let (slow, merge) = (self.b.create_block(), self.b.create_block());
        let res = self.b.append_block_param(merge, ty);
        self.b.set_cold_block(slow);
        self.b.ins().brif(ok, merge, &[v.into()], slow, &[]);
        self.b.switch_to_block(slow);
        let name = math::unary(u, d).expect("a shim");
        let st = ty.lane_type();
        let w = if ty.is_vector() {
            let mut w = x;
            for i in 0..ty.lane_count() as u8 {
                let e = self.b.ins().extractlane(x, i);
                let r = self.call_shim(name, st, &[e]);
                w = self.b.ins().insertlane(w, r, i);
            }
            let m = self.b.ins().bitcast(ty, little(), in_range);
            self.b.ins().bitselect(m, v, w)
        } else {
            self.call_shim(name, st, &[x])
        };
        self.b.ins().jump(merge, &[w.into()]);
        self.b.switch_to_block(merge);
        Some(res)
    }

    /// The `f64` code on `x`, widening `f32` lanes and rounding back.
    fn widened(&mut self, u: UnaryOp, x: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        match ty {
            types::F64 | types::F64X2 => self.f64_fn(u, x),
            types::F32 => {
                let w = self.b.ins().fpromote(types::F64, x);
                let r = self.f64_fn(u, w);
                self.b.ins().fdemote(types::F32, r)
            }
            types::F32X4 => {
                let lo = self.b.ins().fvpromote_low(x);
                let xi = self.b.ins().bitcast(types::I64X2, little(), x);
                let hi_bits = self.b.ins().extractlane(xi, 1);
                let hi = self.b.ins().scalar_to_vector(types::I64X2, hi_bits);
                let hi = self.b.ins().bitcast(types::F32X4, little(), hi);
                let hi = self.b.ins().fvpromote_low(hi);
                let (lo, hi) = (self.f64_fn(u, lo), self.f64_fn(u, hi));
                let lo = self.b.ins().fvdemote(lo);
                let hi = self.b.ins().fvdemote(hi);
                let lo = self.b.ins().bitcast(types::I64X2, little(), lo);
                let hi = self.b.ins().bitcast(types::I64X2, little(), hi);
                let hi_bits = self.b.ins().extractlane(hi, 0);
                let r = self.b.ins().insertlane(lo, hi_bits, 1);
                self.b.ins().bitcast(types::F32X4, little(), r)
            }
            _ => unreachable!("a float type: {ty}"),
        }
    }

    fn f64_fn(&mut self, u: UnaryOp, x: Value) -> Value {
        match u {
            UnaryOp::Exp => self.pm_exp(x),
            UnaryOp::Log => self.pm_log(x),
            UnaryOp::Sin => self.pm_trig(x, Trig::Sin),
            UnaryOp::Cos => self.pm_trig(x, Trig::Cos),
            UnaryOp::Tan => self.pm_trig(x, Trig::Tan),
            UnaryOp::Tanh => self.pm_tanh(x),
            UnaryOp::Sigmoid => self.pm_sigmoid(x),
            _ => unreachable!("checked by `inline`"),
        }
    }

    // --- helpers over scalar or vector ------------------------------------------------

    fn splat_f(&mut self, ty: Type, x: f64) -> Value {
        let s = if ty.lane_type() == types::F64 {
            self.b.ins().f64const(Ieee64::with_bits(x.to_bits()))
        } else {
            self.b.ins().f32const(Ieee32::with_bits((x as f32).to_bits()))
        };
        if ty.is_vector() {
            self.b.ins().splat(ty, s)
        } else {
            s
        }
    }

    fn splat_i(&mut self, ity: Type, x: i64) -> Value {
        let s = self.b.ins().iconst(types::I64, x);
        if ity.is_vector() {
            self.b.ins().splat(ity, s)
        } else {
            s
        }
    }

    fn k(&mut self, x: Value, c: f64) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        self.splat_f(ty, c)
    }

    fn int_ty(ty: Type) -> Type {
        if ty.is_vector() {
            types::I64X2
        } else {
            types::I64
        }
    }

    fn bits_of(&mut self, x: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        self.b.ins().bitcast(Self::int_ty(ty), little(), x)
    }

    fn float_of(&mut self, i: Value) -> Value {
        let ity = self.b.func.dfg.value_type(i);
        let ty = if ity.is_vector() { types::F64X2 } else { types::F64 };
        self.b.ins().bitcast(ty, little(), i)
    }

    /// `c ? a : b` for a condition from `fcmp`/`icmp` on the same shape.
    fn sel(&mut self, c: Value, a: Value, b: Value) -> Value {
        let ty = self.b.func.dfg.value_type(a);
        if ty.is_vector() {
            let m = self.b.ins().bitcast(ty, little(), c);
            self.b.ins().bitselect(m, a, b)
        } else {
            self.b.ins().select(c, a, b)
        }
    }

    fn fcmp_k(&mut self, cc: FloatCC, x: Value, c: f64) -> Value {
        let k = self.k(x, c);
        self.b.ins().fcmp(cc, x, k)
    }

    fn mul_k(&mut self, x: Value, c: f64) -> Value {
        let k = self.k(x, c);
        self.b.ins().fmul(x, k)
    }

    fn add_k(&mut self, x: Value, c: f64) -> Value {
        let k = self.k(x, c);
        self.b.ins().fadd(x, k)
    }

    fn iadd_k(&mut self, i: Value, c: i64) -> Value {
        let ity = self.b.func.dfg.value_type(i);
        let k = self.splat_i(ity, c);
        self.b.ins().iadd(i, k)
    }

    fn band_k(&mut self, i: Value, c: i64) -> Value {
        let ity = self.b.func.dfg.value_type(i);
        let k = self.splat_i(ity, c);
        self.b.ins().band(i, k)
    }

    /// Horner: `((c[n-1]·z + c[n-2])·z + …)·z + c[0]`.
    fn horner(&mut self, z: Value, c: &[f64]) -> Value {
        let mut p = self.k(z, c[c.len() - 1]);
        for &ci in c[..c.len() - 1].iter().rev() {
            let t = self.b.ins().fmul(p, z);
            p = self.add_k(t, ci);
        }
        p
    }

    /// `2^k` for integer-valued `kf` in [-1022, 1023], through `t = kf + SHIFT`.
    fn pow2(&mut self, kf: Value) -> Value {
        let t = self.add_k(kf, SHIFT);
        let bits = self.bits_of(t);
        // (SHIFT_BITS + k + 1023) << 52 = (k + 1023) << 52 (mod 2^64): SHIFT_BITS's low 12 bits are 0.
        let e = self.iadd_k(bits, 1023);
        let n = self.b.ins().iconst(types::I64, 52);
        let e = self.b.ins().ishl(e, n);
        self.float_of(e)
    }

    // --- the functions --------------------------------------------------------------------

    fn pm_exp(&mut self, x: Value) -> Value {
        // Clamp (NaN fails both comparisons and passes through).
        let hi = self.fcmp_k(FloatCC::GreaterThan, x, EXP_CLAMP);
        let c = self.k(x, EXP_CLAMP);
        let x = self.sel(hi, c, x);
        let lo = self.fcmp_k(FloatCC::LessThan, x, -EXP_CLAMP);
        let c = self.k(x, -EXP_CLAMP);
        let x = self.sel(lo, c, x);
        // k = round(x / ln 2).
        let t = self.mul_k(x, INV_LN2);
        let t = self.add_k(t, SHIFT);
        let kf = self.add_k(t, -SHIFT);
        let a = self.mul_k(kf, f(LN2_HI));
        let r = self.b.ins().fsub(x, a);
        let b = self.mul_k(kf, f(LN2_LO));
        let r = self.b.ins().fsub(r, b);
        // e^r = 1 + (r + r²·q(r)), q the Taylor series of (e^r - 1 - r)/r² to degree 11.
        let mut c = [0.0; 12];
        let mut fact = 2.0;
        for (i, ci) in c.iter_mut().enumerate() {
            *ci = 1.0 / fact;
            fact *= (i + 3) as f64;
        }
        let q = self.horner(r, &c);
        let r2 = self.b.ins().fmul(r, r);
        let s = self.b.ins().fmul(r2, q);
        // 1 + r + s with the rounding error of 1 + r recovered (Fast2Sum: |r| < 1), so the
        // sum is rounded about once.
        let one = self.k(r, 1.0);
        let t = self.b.ins().fadd(one, r);
        let err = self.b.ins().fsub(one, t);
        let err = self.b.ins().fadd(err, r);
        let s = self.b.ins().fadd(err, s);
        let y = self.b.ins().fadd(t, s);
        // 2^k = 2^k1 · 2^k2 with k1 = round(k/2), both in the normal range.
        let h = self.mul_k(kf, 0.5);
        let h = self.add_k(h, SHIFT);
        let k1 = self.add_k(h, -SHIFT);
        let k2 = self.b.ins().fsub(kf, k1);
        let s1 = self.pow2(k1);
        let s2 = self.pow2(k2);
        let y = self.b.ins().fmul(y, s1);
        self.b.ins().fmul(y, s2)
    }

    fn pm_log(&mut self, x: Value) -> Value {
        // Subnormals (and zeros, fixed below) scaled into the normal range.
        let tiny = self.fcmp_k(FloatCC::LessThan, x, f64::MIN_POSITIVE);
        let xs = self.mul_k(x, 18014398509481984.0); // 2^54
        let xs = self.sel(tiny, xs, x);
        let c54 = self.k(x, 54.0);
        let c0 = self.k(x, 0.0);
        let ebias = self.sel(tiny, c54, c0);
        let bits = self.bits_of(xs);
        let ix = self.iadd_k(bits, 0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
        let n = self.b.ins().iconst(types::I64, 52);
        let eb = self.b.ins().ushr(ix, n);
        let mb = self.band_k(ix, 0x000f_ffff_ffff_ffff);
        let mb = self.iadd_k(mb, SQRT_HALF_BITS);
        let m = self.float_of(mb);
        // The biased exponent (0..2047) as a float, through SHIFT.
        let eb = self.iadd_k(eb, SHIFT_BITS);
        let ef = self.float_of(eb);
        let ef = self.add_k(ef, -SHIFT - 1023.0);
        let ef = self.b.ins().fsub(ef, ebias);
        let fm = self.add_k(m, -1.0);
        let two = self.add_k(fm, 2.0);
        let s = self.b.ins().fdiv(fm, two);
        let z = self.b.ins().fmul(s, s);
        let rz = self.horner(z, &LG);
        let rz = self.b.ins().fmul(z, rz);
        let f2 = self.b.ins().fmul(fm, fm);
        let hfsq = self.mul_k(f2, 0.5);
        // e·ln2_hi − ((hfsq − (s·(hfsq + R) + e·ln2_lo)) − f)
        let t = self.b.ins().fadd(hfsq, rz);
        let t = self.b.ins().fmul(s, t);
        let lo = self.mul_k(ef, f(LN2_LO));
        let t = self.b.ins().fadd(t, lo);
        let t = self.b.ins().fsub(hfsq, t);
        let t = self.b.ins().fsub(t, fm);
        let hi = self.mul_k(ef, f(LN2_HI));
        let r = self.b.ins().fsub(hi, t);
        // Special values.
        let neg = self.fcmp_k(FloatCC::LessThan, x, 0.0);
        let nan = self.k(x, f64::NAN);
        let r = self.sel(neg, nan, r);
        let zero = self.fcmp_k(FloatCC::Equal, x, 0.0);
        let minf = self.k(x, f64::NEG_INFINITY);
        let r = self.sel(zero, minf, r);
        let top = self.fcmp_k(FloatCC::UnorderedOrGreaterThanOrEqual, x, f64::INFINITY);
        self.sel(top, x, r)
    }

    fn pm_trig(&mut self, x: Value, which: Trig) -> Value {
        let t = self.mul_k(x, TWO_OVER_PI);
        let t = self.add_k(t, SHIFT);
        let q = self.bits_of(t); // k in the low bits
        let kf = self.add_k(t, -SHIFT);
        let mut r = x;
        for p in [PIO2_1, PIO2_2, PIO2_3, PIO2_3T] {
            let a = self.mul_k(kf, f(p));
            r = self.b.ins().fsub(r, a);
        }
        let z = self.b.ins().fmul(r, r);
        // sin r = r + r·z·(S1 + z·(S2 + …))
        let sp = self.horner(z, &S);
        let v = self.b.ins().fmul(z, r);
        let sp = self.b.ins().fmul(v, sp);
        let sin_r = self.b.ins().fadd(r, sp);
        // cos r = w + (((1 − w) − z/2) + z²·(C1 + z·(C2 + …))), w = 1 − z/2
        let hz = self.mul_k(z, 0.5);
        let one = self.k(x, 1.0);
        let w = self.b.ins().fsub(one, hz);
        let cp = self.horner(z, &C);
        let z2 = self.b.ins().fmul(z, z);
        let cp = self.b.ins().fmul(z2, cp);
        let ow = self.b.ins().fsub(one, w);
        let ow = self.b.ins().fsub(ow, hz);
        let cp = self.b.ins().fadd(ow, cp);
        let cos_r = self.b.ins().fadd(w, cp);
        let ity = Self::int_ty(self.b.func.dfg.value_type(x));
        let zero = self.splat_i(ity, 0);
        let odd = self.band_k(q, 1);
        let odd = self.b.ins().icmp(IntCC::NotEqual, odd, zero);
        let y = match which {
            Trig::Sin | Trig::Cos => {
                let n = if which == Trig::Cos { self.iadd_k(q, 1) } else { q };
                let odd = if which == Trig::Cos {
                    let o = self.band_k(n, 1);
                    self.b.ins().icmp(IntCC::NotEqual, o, zero)
                } else {
                    odd
                };
                let y = self.sel(odd, cos_r, sin_r);
                // Negate in quadrants 2 and 3 (of n): bit 1 of n to the sign bit.
                let sgn = self.band_k(n, 2);
                let k62 = self.b.ins().iconst(types::I64, 62);
                let sgn = self.b.ins().ishl(sgn, k62);
                let yb = self.bits_of(y);
                let yb = self.b.ins().bxor(yb, sgn);
                self.float_of(yb)
            }
            Trig::Tan => {
                // Even k: sin r / cos r; odd k: −cos r / sin r.
                let t0 = self.b.ins().fdiv(sin_r, cos_r);
                let t1 = self.b.ins().fdiv(cos_r, sin_r);
                let t1 = self.b.ins().fneg(t1);
                self.sel(odd, t1, t0)
            }
        };
        if which == Trig::Cos {
            return y;
        }
        let a = self.b.ins().fabs(x);
        let small = self.fcmp_k(FloatCC::LessThan, a, TINY);
        self.sel(small, x, y)
    }

    fn pm_tanh(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);
        // Large: 1 − 2/(e^{2|x|} + 1), the sign of x.
        let a2 = self.b.ins().fadd(a, a);
        let e = self.pm_exp(a2);
        let e1 = self.add_k(e, 1.0);
        let two = self.k(x, 2.0);
        let q = self.b.ins().fdiv(two, e1);
        let one = self.k(x, 1.0);
        let yb = self.b.ins().fsub(one, q);
        let xb = self.bits_of(x);
        let sign = self.band_k(xb, SIGN);
        let ybb = self.bits_of(yb);
        let ybb = self.b.ins().bor(ybb, sign);
        let yb = self.float_of(ybb);
        // Small: x + x·(z·P(z)/Q(z)).
        let z = self.b.ins().fmul(x, x);
        let p = self.horner(z, &TANH_P);
        let mut qz = self.add_k(z, TANH_Q[0]);
        for &c in &TANH_Q[1..] {
            let t = self.b.ins().fmul(qz, z);
            qz = self.add_k(t, c);
        }
        let p = self.b.ins().fmul(z, p);
        let p = self.b.ins().fdiv(p, qz);
        let p = self.b.ins().fmul(x, p);
        let ys = self.b.ins().fadd(x, p);
        let small = self.fcmp_k(FloatCC::LessThan, a, 0.625);
        let y = self.sel(small, ys, yb);
        let tiny = self.fcmp_k(FloatCC::LessThan, a, TINY);
        self.sel(tiny, x, y)
    }

    fn pm_sigmoid(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);
        let na = self.b.ins().fneg(a);
        let e = self.pm_exp(na);
        let d = self.add_k(e, 1.0);
        let one = self.k(x, 1.0);
        let pos = self.b.ins().fdiv(one, d);
        let neg = self.b.ins().fdiv(e, d);
        let ge = self.fcmp_k(FloatCC::GreaterThanOrEqual, x, 0.0);
        self.sel(ge, pos, neg)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trig {
    Sin,
    Cos,
    Tan,
}
