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
//! - `erf`: fdlibm's piecewise rational approximations (`s_erf.c`) on `a = |x|`, the sign of
//!   `x` put back at the end (`erf(±0) = ±0`, `erf(±inf) = ±1`, NaN passes): `a < 2⁻²⁸`:
//!   `(8a + efx8·a)/8`; `a < 0.84375`: `a + a·P(a²)/Q(a²)`; `a < 1.25`:
//!   `1 − ((1 − erx) − P(a − 1)/Q(a − 1))`, `erx` = erf(1) to 24 bits; `a < 6`:
//!   `1 − exp(−zh² − 0.5625 + (zh − a)(zh + a) + R(1/a²)/S(1/a²))/a`, `zh` = `a` with its low
//!   32 bits cleared, `R/S` two pieces split at ≈ 1/0.35 (fdlibm's branch points, on the
//!   high word); `a ≥ 6`: 1. The two pieces below 1.25 are both evaluated and the lane's
//!   numerator and denominator selected before one division; the reference's product of two
//!   exponentials is one `exp` of the sum here, its rounding error recovered (Fast2Sum)
//!   and applied as `exp(s)·(1 + err)`; `1/a²` and `/a` come from one reciprocal. The tail
//!   piece (the costly one: two divisions and an `exp`) is evaluated **only when some lane
//!   of the vector needs it** (a branch on the whole vector; a lane's bits never depend on
//!   the other lanes): on normally distributed data the tail is skipped for most vectors.
//! - `softplus`: the interpreter's form `max(x, 0) + log1p(exp(−|x|))` with the inline `exp`
//!   and a `log1p` for `0 ≤ e ≤ 1` after fdlibm's `s_log1p.c` on the `log` kernel above:
//!   `u = 1 + e = 2^k·m` (`k ∈ {0, 1}`, so none of `log`'s special cases), and the rounding
//!   error of `u` carried into the low part as `c = (e − (u − 1))/u`: exact for tiny `e`
//!   (`exp(x)` subnormal for `x → −745`: `log1p(e) = e`), `softplus(−inf) = 0`,
//!   `softplus(inf) = inf`, NaN passes.
//! - `gelu`: the interpreter's formula `(0.5·x)·(1 + erf(x/√2))` (the same operations, the
//!   division by `√2` included) on the inline `erf`, so `gelu(x) = −0` where `erf(x/√2)`
//!   rounds to −1 (x < −8.3) and `gelu(−inf) = NaN`, as the reference.
//! - `pow` (a binary op) is inline too, in its own file (`polypow.rs`: table-driven `log`
//!   and `exp`, its bound [`binary_ulp_bound`](super::binary_ulp_bound): 2 ulp in
//!   `f64`, 1 in `f32`).
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
//! | erf      | 2 ulp (1)            | 1 ulp (1)            |
//! | softplus | 3 ulp (2)            | 2 ulp (1)            |
//! | gelu     | 3 ulp\* (1)          | 2 ulp\* (2)          |
//!
//! \* gelu's ulps are those of `max(|gelu(x)|, |x|/2)`, not of the result: for `x < 0` the
//! reference `0.5·x·(1 + erf(x/√2))` cancels (`1 + erf → 0`), so it is itself only that
//! accurate (the f64 `erf` has ulp 2⁻⁵³ near −1), and no approximation of `erf` short of
//! libm's exact bits can match it to ulps of the result. For `x ≥ 0`, `|gelu(x)| ≥ |x|/2`
//! and these are ulps of the result. The f32 gelu is computed in f64 and rounded once,
//! so it is more accurate than the f32 reference where that cancels (which gives −0 for
//! x below about −5.5, where ours is a tiny negative number).
//!
//! The f32 errors are mostly libm's own: the f32 results here are within 0.5 ulp plus
//! about 2⁻²⁹ ulp of the true values; the reference `tanhf` and the reference sigmoid
//! (which rounds three times in f32), softplus (three roundings) and gelu (four) are not
//! correctly rounded.
//!
//! Speed (10⁶ `f64` from a standard normal, `sum(op(x))`, 2 cores, median of 50, against
//! the libm shims): erf 5.4 ms (shim 6.1), gelu 4.0 ms (4.8), softplus 5.7 ms (7.5). The
//! erf/gelu gain depends on the data: with every lane in the tail (`erf(1.5 + |x|/2)`) every
//! piece is evaluated, 8.9 ms (shim 11.0); the worst case is a vector mixing tail and
//! small lanes (the branch mispredicted and all pieces evaluated).
//!
//! References: W. J. Cody and W. Waite, *Software Manual for the Elementary Functions*
//! (1980) for the reductions; Sun's fdlibm (`e_log.c`, `k_sin.c`, `k_cos.c`, `e_rem_pio2.c`)
//! for the log, sin and cos minimax coefficients and the split constants of ln 2 and π/2;
//! S. L. Moshier's Cephes (`tanh.c`) for the tanh rational coefficients; fdlibm's `s_erf.c`
//! for erf's pieces, branch points and coefficients, and `s_log1p.c` for the log1p
//! correction. The code here is written from those descriptions; only the published
//! constants are taken.

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
/// `None` if `u` has no inline form (the JIT calls the exact shim). For `gelu` the ulps are
/// those of `max(|gelu(x)|, |x|/2)` (the reference cancels for `x < 0`; see the module doc).
pub fn ulp_bound(u: UnaryOp, d: DType) -> Option<u64> {
    use UnaryOp as U;
    let f64_bound = match u {
        U::Exp | U::Log => 2,
        U::Sin | U::Cos => 3,
        U::Tanh | U::Sigmoid => 4,
        U::Tan => 5,
        U::Erf => 2,
        U::Softplus => 3,
        U::Gelu => 3,
        _ => return None,
    };
    match d {
        DType::F64 => Some(f64_bound),
        // The f32 references are not all correctly rounded: sigmoid rounds three times in
        // f32, and libm's tanhf is measured 1 ulp off (our f64-computed value is within
        // 0.5 ulp + 2^-29 of the true one); softplus and gelu round three and four times.
        DType::F32 if matches!(u, U::Sigmoid | U::Tanh | U::Softplus | U::Gelu) => Some(2),
        DType::F32 => Some(1),
        _ => None,
    }
}

/// Whether `u` on `d` has an inline form.
pub(super) fn inline(u: UnaryOp, d: DType) -> bool {
    ulp_bound(u, d).is_some()
}

pub(super) const SHIFT: f64 = 6755399441055744.0; // 1.5 · 2^52
pub(super) const SHIFT_BITS: i64 = 0x4338_0000_0000_0000;
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
pub(super) const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd;

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

// erf: Sun fdlibm s_erf.c (as in musl and the `libm` crate). Numerators from the constant
// term up; denominators `1 + z·(Q1 + z·(Q2 + …))` listed from Q1.
const ERF_EFX8: f64 = 1.02703333676410069053e+00;
const ERF_PP: [f64; 5] = [
    1.28379167095512558561e-01,
    -3.25042107247001499370e-01,
    -2.84817495755985104766e-02,
    -5.77027029648944159157e-03,
    -2.37630166566501626084e-05,
];
const ERF_QQ: [f64; 6] = [
    1.0,
    3.97917223959155352819e-01,
    6.50222499887672944485e-02,
    5.08130628187576562776e-03,
    1.32494738004321644526e-04,
    -3.96022827877536812320e-06,
];
/// erf(1) rounded to 24 bits (fdlibm's `erx`).
const ERF_ERX: f64 = 8.45062911510467529297e-01;
const ERF_PA: [f64; 7] = [
    -2.36211856075265944077e-03,
    4.14856118683748331666e-01,
    -3.72207876035701323847e-01,
    3.18346619901161753674e-01,
    -1.10894694282396677476e-01,
    3.54783043256182359371e-02,
    -2.16637559486879084300e-03,
];
const ERF_QA: [f64; 7] = [
    1.0,
    1.06420880400844228286e-01,
    5.40397917702171048937e-01,
    7.18286544141962662868e-02,
    1.26171219808761642112e-01,
    1.36370839120290507362e-02,
    1.19844998467991074170e-02,
];
const ERF_RA: [f64; 8] = [
    -9.86494403484714822705e-03,
    -6.93858572707181764372e-01,
    -1.05586262253232909814e+01,
    -6.23753324503260060396e+01,
    -1.62396669462573470355e+02,
    -1.84605092906711035994e+02,
    -8.12874355063065934246e+01,
    -9.81432934416914548592e+00,
];
const ERF_SA: [f64; 9] = [
    1.0,
    1.96512716674392571292e+01,
    1.37657754143519042600e+02,
    4.34565877475229228821e+02,
    6.45387271733267880336e+02,
    4.29008140027567833386e+02,
    1.08635005541779435134e+02,
    6.57024977031928170135e+00,
    -6.04244152148580987438e-02,
];
const ERF_RB: [f64; 7] = [
    -9.86494292470009928597e-03,
    -7.99283237680523006574e-01,
    -1.77579549177547519889e+01,
    -1.60636384855821916062e+02,
    -6.37566443368389627722e+02,
    -1.02509513161107724954e+03,
    -4.83519191608651397019e+02,
];
const ERF_SB: [f64; 8] = [
    1.0,
    3.03380607434824582924e+01,
    3.25792512996573918826e+02,
    1.53672958608443695994e+03,
    3.19985821950859553908e+03,
    2.55305040643316442583e+03,
    4.74528541206955367215e+02,
    -2.24409524465858183362e+01,
];
/// fdlibm's branch points, on the high word of `|x|`: 2⁻²⁸, 0.84375, 1.25, ≈1/0.35, 6.
const ERF_TINY: f64 = 3.725290298461914e-9; // 2^-28
const ERF_B1: f64 = 0.84375;
const ERF_B2: f64 = 1.25;
const ERF_B3: u64 = 0x4006_db6d_0000_0000; // the first double whose high word is ≥ 1/0.35's
const ERF_B4: f64 = 6.0;

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
        self.widened_n(&[x], |em, a| em.f64_fn(u, a[0]))
    }

    /// `f` (the `f64` code) on the operands `xs` (all of one type), widening `f32` lanes
    /// (an `f32x4` as two `f64x2` halves) and rounding the result back once.
    pub(super) fn widened_n(&mut self, xs: &[Value], f: impl Fn(&mut Self, &[Value]) -> Value) -> Value {
        let ty = self.b.func.dfg.value_type(xs[0]);
        match ty {
            types::F64 | types::F64X2 => f(self, xs),
            types::F32 => {
                let w: Vec<Value> = xs.iter().map(|&x| self.b.ins().fpromote(types::F64, x)).collect();
                let r = f(self, &w);
                self.b.ins().fdemote(types::F32, r)
            }
            types::F32X4 => {
                let (mut los, mut his) = (Vec::new(), Vec::new());
                for &x in xs {
                    let lo = self.b.ins().fvpromote_low(x);
                    let xi = self.b.ins().bitcast(types::I64X2, little(), x);
                    let hi_bits = self.b.ins().extractlane(xi, 1);
                    let hi = self.b.ins().scalar_to_vector(types::I64X2, hi_bits);
                    let hi = self.b.ins().bitcast(types::F32X4, little(), hi);
                    los.push(lo);
                    his.push(self.b.ins().fvpromote_low(hi));
                }
                let (lo, hi) = (f(self, &los), f(self, &his));
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
            UnaryOp::Erf => self.pm_erf(x),
            UnaryOp::Softplus => self.pm_softplus(x),
            UnaryOp::Gelu => self.pm_gelu(x),
            _ => unreachable!("checked by `inline`"),
        }
    }

    // --- helpers over scalar or vector ------------------------------------------------

    pub(super) fn splat_f(&mut self, ty: Type, x: f64) -> Value {
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

    pub(super) fn splat_i(&mut self, ity: Type, x: i64) -> Value {
        let s = self.b.ins().iconst(types::I64, x);
        if ity.is_vector() {
            self.b.ins().splat(ity, s)
        } else {
            s
        }
    }

    pub(super) fn k(&mut self, x: Value, c: f64) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        self.splat_f(ty, c)
    }

    pub(super) fn int_ty(ty: Type) -> Type {
        if ty.is_vector() {
            types::I64X2
        } else {
            types::I64
        }
    }

    pub(super) fn bits_of(&mut self, x: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        self.b.ins().bitcast(Self::int_ty(ty), little(), x)
    }

    pub(super) fn float_of(&mut self, i: Value) -> Value {
        let ity = self.b.func.dfg.value_type(i);
        let ty = if ity.is_vector() { types::F64X2 } else { types::F64 };
        self.b.ins().bitcast(ty, little(), i)
    }

    /// `c ? a : b` for a condition from `fcmp`/`icmp` on the same shape.
    pub(super) fn sel(&mut self, c: Value, a: Value, b: Value) -> Value {
        let ty = self.b.func.dfg.value_type(a);
        if ty.is_vector() {
            let m = self.b.ins().bitcast(ty, little(), c);
            self.b.ins().bitselect(m, a, b)
        } else {
            self.b.ins().select(c, a, b)
        }
    }

    pub(super) fn fcmp_k(&mut self, cc: FloatCC, x: Value, c: f64) -> Value {
        let k = self.k(x, c);
        self.b.ins().fcmp(cc, x, k)
    }

    pub(super) fn mul_k(&mut self, x: Value, c: f64) -> Value {
        let k = self.k(x, c);
        self.b.ins().fmul(x, k)
    }

    pub(super) fn add_k(&mut self, x: Value, c: f64) -> Value {
        let k = self.k(x, c);
        self.b.ins().fadd(x, k)
    }

    pub(super) fn iadd_k(&mut self, i: Value, c: i64) -> Value {
        let ity = self.b.func.dfg.value_type(i);
        let k = self.splat_i(ity, c);
        self.b.ins().iadd(i, k)
    }

    pub(super) fn band_k(&mut self, i: Value, c: i64) -> Value {
        let ity = self.b.func.dfg.value_type(i);
        let k = self.splat_i(ity, c);
        self.b.ins().band(i, k)
    }

    /// Horner: `((c[n-1]·z + c[n-2])·z + …)·z + c[0]`.
    pub(super) fn horner(&mut self, z: Value, c: &[f64]) -> Value {
        let mut p = self.k(z, c[c.len() - 1]);
        for &ci in c[..c.len() - 1].iter().rev() {
            let t = self.b.ins().fmul(p, z);
            p = self.add_k(t, ci);
        }
        p
    }

    /// `2^k` for integer-valued `kf` in [-1022, 1023], through `t = kf + SHIFT`.
    pub(super) fn pow2(&mut self, kf: Value) -> Value {
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
        self.scale_by_pow2(y, kf)
    }

    /// `y · 2^k` for an integral float `k` whose `2^k` may leave the normal range (down to
    /// a subnormal or up to overflow) while the product does not: as `y · 2^k1 · 2^k2` with
    /// `k1 = round(k/2)`, both powers normal.
    pub(super) fn scale_by_pow2(&mut self, y: Value, kf: Value) -> Value {
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
        let lo = self.mul_k(ef, f(LN2_LO));
        let r = self.log_kernel(fm, ef, lo);
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

    /// `erf`: fdlibm's piecewise rational approximations (`s_erf.c`) on `a = |x|`, then the
    /// sign of `x`. The pieces below 1.25 are both evaluated, the lane's pair selected and
    /// divided once; the tail piece (1.25 ≤ a < 6, the costly one) only where some lane
    /// needs it (a branch on the whole vector: the lanes' results do not depend on it).
    fn pm_erf(&mut self, x: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        let a = self.b.ins().fabs(x);
        let one = self.k(x, 1.0);
        // |x| < 2^-28: (8a + efx8·a)/8 (no underflow in the scaling).
        let a8 = self.mul_k(a, 8.0);
        let t = self.mul_k(a, ERF_EFX8);
        let t = self.b.ins().fadd(a8, t);
        let y_tiny = self.mul_k(t, 0.125);
        // |x| < 0.84375: a + a·P(z)/Q(z), z = a².
        let z = self.b.ins().fmul(a, a);
        let pp = self.horner(z, &ERF_PP);
        let qq = self.horner(z, &ERF_QQ);
        // |x| < 1.25: 1 − ((1 − erx) − P(s)/Q(s)), s = a − 1, as the reference rounds it.
        let s = self.add_k(a, -1.0);
        let pa = self.horner(s, &ERF_PA);
        let qa = self.horner(s, &ERF_QA);
        let small = self.fcmp_k(FloatCC::LessThan, a, ERF_B1);
        let num = self.sel(small, pp, pa);
        let den = self.sel(small, qq, qa);
        let r = self.b.ins().fdiv(num, den);
        let ar = self.b.ins().fmul(a, r);
        let y_small = self.b.ins().fadd(a, ar);
        let c = self.k(x, 1.0 - ERF_ERX);
        let m = self.b.ins().fsub(c, r);
        let y_mid = self.b.ins().fsub(one, m);
        let y = self.sel(small, y_small, y_mid);
        let tiny = self.fcmp_k(FloatCC::LessThan, a, ERF_TINY);
        let y = self.sel(tiny, y_tiny, y);
        // |x| ≥ 1.25 (and inf): 1, unless the tail below replaces it.
        let mid = self.fcmp_k(FloatCC::LessThan, a, ERF_B2);
        let y0 = self.sel(mid, y, one);
        let ge = self.fcmp_k(FloatCC::GreaterThanOrEqual, a, ERF_B2);
        let lt6 = self.fcmp_k(FloatCC::LessThan, a, ERF_B4);
        let need = self.b.ins().band(ge, lt6);
        let any = if ty.is_vector() { self.b.ins().vany_true(need) } else { need };
        let (tail, merge) = (self.b.create_block(), self.b.create_block());
        let res = self.b.append_block_param(merge, ty);
        self.b.ins().brif(any, tail, &[], merge, &[y0.into()]);
        self.b.switch_to_block(tail);
        // 1.25 ≤ |x| < 6: 1 − exp(−zh² − 0.5625 + (zh − a)(zh + a) + R(w)/S(w))/a, w = 1/a²,
        // zh = a with its low 32 bits cleared (zh² and u = −zh² − 0.5625 exact); the two
        // exponentials of the reference are one here: the rounding error of u + d is
        // recovered (Fast2Sum, |u| ≥ 2 > |d|) and applied as exp(u + d)·(1 + err).
        let one = self.k(x, 1.0);
        let inv = self.b.ins().fdiv(one, a);
        let w = self.b.ins().fmul(inv, inv);
        let ra = self.horner(w, &ERF_RA);
        let sa = self.horner(w, &ERF_SA);
        let rb = self.horner(w, &ERF_RB);
        let sb = self.horner(w, &ERF_SB);
        let in_a = self.fcmp_k(FloatCC::LessThan, a, f(ERF_B3));
        let num = self.sel(in_a, ra, rb);
        let den = self.sel(in_a, sa, sb);
        let r = self.b.ins().fdiv(num, den);
        let ab = self.bits_of(a);
        let zb = self.band_k(ab, -0x1_0000_0000);
        let zh = self.float_of(zb);
        let zz = self.b.ins().fmul(zh, zh);
        let zz = self.b.ins().fneg(zz);
        let u = self.add_k(zz, -0.5625);
        let dm = self.b.ins().fsub(zh, a);
        let dp = self.b.ins().fadd(zh, a);
        let d = self.b.ins().fmul(dm, dp);
        let d = self.b.ins().fadd(d, r);
        let sum = self.b.ins().fadd(u, d);
        let err = self.b.ins().fsub(u, sum);
        let err = self.b.ins().fadd(err, d);
        let e = self.pm_exp(sum);
        let ee = self.b.ins().fmul(e, err);
        let e = self.b.ins().fadd(e, ee);
        let q = self.b.ins().fmul(e, inv);
        let y_tail = self.b.ins().fsub(one, q);
        let y1 = self.sel(need, y_tail, y0);
        self.b.ins().jump(merge, &[y1.into()]);
        self.b.switch_to_block(merge);
        // The sign of x (y ≥ 0 here); NaN passes.
        let xb = self.bits_of(x);
        let sign = self.band_k(xb, SIGN);
        let yb = self.bits_of(res);
        let yb = self.b.ins().bor(yb, sign);
        let y = self.float_of(yb);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.sel(nan, x, y)
    }

    /// `log(1 + e)` for `0 ≤ e ≤ 1` (or NaN): fdlibm's `s_log1p.c` scheme on the `log`
    /// kernel: `u = 1 + e = 2^k·m`, `k ∈ {0, 1}`, `m ∈ [√2/2, √2)`, `f = m − 1` (exact), the
    /// rounding error of `u` carried as `c = (e − (u − 1))/u` into the low part:
    /// `k·ln2_hi − ((hfsq − (s·(hfsq + R) + (k·ln2_lo + c))) − f)`.
    fn pm_log1p_pos(&mut self, e: Value) -> Value {
        let u = self.add_k(e, 1.0);
        let big = self.fcmp_k(FloatCC::GreaterThanOrEqual, u, std::f64::consts::SQRT_2);
        let hu = self.mul_k(u, 0.5);
        let m = self.sel(big, hu, u);
        let one = self.k(e, 1.0);
        let zero = self.k(e, 0.0);
        let kf = self.sel(big, one, zero);
        let fm = self.add_k(m, -1.0);
        let um1 = self.add_k(u, -1.0);
        let c = self.b.ins().fsub(e, um1);
        let c = self.b.ins().fdiv(c, u);
        let lo = self.mul_k(kf, f(LN2_LO));
        let lo = self.b.ins().fadd(lo, c);
        self.log_kernel(fm, kf, lo)
    }

    /// fdlibm's log kernel shared by `log` and `log1p`: for `x = 2^k·(1 + f)` with
    /// `1 + f ∈ [√2/2, √2)` and `lo` the low part of the result (`k·ln2_lo`, plus log1p's
    /// correction), `k·ln2_hi − ((hfsq − (s·(hfsq + R(s²)) + lo)) − f)`, `s = f/(2 + f)`.
    fn log_kernel(&mut self, fm: Value, kf: Value, lo: Value) -> Value {
        let two = self.add_k(fm, 2.0);
        let s = self.b.ins().fdiv(fm, two);
        let z = self.b.ins().fmul(s, s);
        let rz = self.horner(z, &LG);
        let rz = self.b.ins().fmul(z, rz);
        let f2 = self.b.ins().fmul(fm, fm);
        let hfsq = self.mul_k(f2, 0.5);
        let t = self.b.ins().fadd(hfsq, rz);
        let t = self.b.ins().fmul(s, t);
        let t = self.b.ins().fadd(t, lo);
        let t = self.b.ins().fsub(hfsq, t);
        let t = self.b.ins().fsub(t, fm);
        let hi = self.mul_k(kf, f(LN2_HI));
        self.b.ins().fsub(hi, t)
    }

    /// `softplus`: the interpreter's stable form `max(x, 0) + log1p(exp(−|x|))`.
    fn pm_softplus(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);
        let na = self.b.ins().fneg(a);
        let e = self.pm_exp(na);
        let l = self.pm_log1p_pos(e);
        let pos = self.fcmp_k(FloatCC::GreaterThan, x, 0.0);
        let zero = self.k(x, 0.0);
        let m = self.sel(pos, x, zero);
        let y = self.b.ins().fadd(m, l);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.sel(nan, x, y)
    }

    /// `gelu`: the interpreter's formula `(0.5·x)·(1 + erf(x/√2))` on the inline `erf`.
    fn pm_gelu(&mut self, x: Value) -> Value {
        let h = self.mul_k(x, 0.5);
        let r2 = self.k(x, std::f64::consts::SQRT_2);
        let t = self.b.ins().fdiv(x, r2);
        let e = self.pm_erf(t);
        let e = self.add_k(e, 1.0);
        self.b.ins().fmul(h, e)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trig {
    Sin,
    Cos,
    Tan,
}
