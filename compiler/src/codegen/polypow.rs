//! The inline, vectorizable float `pow` (`x^y`, [`BinaryOp::Pow`](crate::ir::BinaryOp::Pow)),
//! emitted as Cranelift IR on a scalar `f64` or a vector `f64x2` (an `f32` operand is widened,
//! computed in `f64` and rounded once, as for the functions of `polymath.rs`). Branch-free:
//! every special case is a lane select, so the vector loop and the scalar tail give the same
//! bits. Used unless [`Options::exact_math`](super::Options::exact_math) asks for the
//! interpreter's `powf` (the shim `gd_pow_*` of `math.rs`).
//!
//! # Method
//!
//! `x^y = 2^(y·log₂|x|)`, the sign put back for negative `x` and odd integer `y`. An error
//! `δ` in `z = y·log₂|x|` is a relative error `δ·ln 2` of the result, and `|z|` reaches 1075
//! before the result underflows, so `log₂|x|` and the product are carried in
//! **double-double** (a value as an unevaluated sum `hi + lo`), with Dekker's exact product
//! (the factors split by clearing the low 27 bits of their significands; no fused
//! multiply-add, so the bits do not depend on the CPU) and Knuth's / Dekker's exact sums
//! (TwoSum, Fast2Sum). No table. The polynomials are evaluated by Estrin's scheme (a short
//! dependency chain: the whole computation is one chain from `x` to the result).
//!
//! - `log₂|x|`: subnormals scaled by 2⁵⁴; `|x| = 2^e·m`, `m ∈ [√2/2, √2)` by integer
//!   operations on the bits (as the inline `log`); `s = (m − 1)/(m + 1)` in double-double
//!   (`m − 1` exact, `m + 1` by Fast2Sum, one reciprocal, the quotient's remainder from an
//!   exact product); `|s| ≤ 0.1716`. `log₂ m = 2·atanh(s)/ln 2 = (2/ln 2)·s + s³·c`,
//!   `c = ((2/3) + w·R(w))/ln 2`, `w = s²`, `R(w) = Σⱼ 2wʲ/(2j + 5)`, j ≤ 10 (the Taylor
//!   series; truncation below 2⁻⁷⁰ relative): `s`, `s³`, `2/ln 2` and `(2/3)/ln 2` in
//!   double-double, only `w·R(w)/ln 2` (≤ 1.2 % of `c`) in plain `f64`. Then `+ e` (TwoSum):
//!   `log₂|x| = t₁ + t₂` to about 2⁻⁶⁵ relative.
//! - `z = y·(t₁ + t₂) = z₁ + z₂`: the exact product `y·t₁` plus `y·t₂`. `|y|` is clamped to
//!   10²⁷⁰ first (the exact product must not overflow; beyond that the result is 0, inf or — for
//!   `|x| = 1` — 1 either way, and a clamped huge `y` stays an even integer).
//! - `2^z`: `z₁` clamped to ±1200 (then `z₂ = 0`), `k = round(z₁)` (through `1.5·2⁵²`),
//!   `r = (z₁ − k) + z₂` (`z₁ − k` exact), `t = r·ln 2` in double-double (`|t| ≤ 0.35`),
//!   `e^t = 1 + t₁ + (t₁²·q(t₁) + t₂·(1 + t₁))` with `q` the Taylor polynomial of
//!   `(eᵗ − 1 − t)/t²` to degree 11 and the rounding error of `1 + t₁` recovered (as the
//!   inline `exp`), scaled by `2^k₁·2^k₂`, `k = k₁ + k₂`: overflow gives inf, and a result in
//!   the subnormal range is rounded once from the 53-bit `e^t` (so within 1 ulp there).
//! - Special values (C99 / IEEE 754 `pow`, as libm's `pow` which the interpreter calls),
//!   by lane masks: `x^±0 = 1` and `1^y = 1` even for NaN; otherwise NaN in, NaN out;
//!   `y` is an integer iff `floor(y) = y` (±inf count as even integers, as in C), odd iff
//!   also `floor(y/2) ≠ y/2` (every `|y| ≥ 2⁵³` is even); finite `x < 0` with a non-integer
//!   `y`: NaN; `|x| = 0`: `+inf` for `y < 0`, else `+0`; `|x| = inf`: `+0` for `y < 0`, else
//!   `+inf`; then a negative `x` (−0 and −inf included) with an odd `y` negates.
//!   `(−1)^±inf = 1`, `|x| < 1` or `> 1` with `±inf` come out of the general path
//!   (`z = ±10²⁷⁰·log₂|x|` is 0 or overflows).
//!
//! # Bound
//!
//! [`binary_ulp_bound`]: **2 ulp** in `f64` (measured max 1 ulp: about 0.8 % of the results
//! are 1 ulp from libm's on the test's inputs, none more; zeros and infinities, underflow to
//! 0 and overflow to inf included, are libm's bit for bit) and **1 ulp** in `f32` (measured
//! 1: the `f64` result, within 1 `f64` ulp, rounded once to `f32` is the correctly rounded
//! value except in double-rounding cases, about 2⁻²⁹ of them; glibc's `powf` is itself not
//! correctly rounded). Checked on ≥ 10⁶ pairs by `compiler/tests/polymath.rs`.
//!
//! # Speed
//!
//! About 220 floating-point operations and 80 bit, compare and select operations per
//! element (an `f64x2` does two at once): seven exact products without FMA, two polynomials
//! of degree 11 and 13, one division, in one dependency chain. It is **slower than glibc's
//! table-driven scalar `pow`** (about 12 ns a call here): on 10⁶ `f64` pairs,
//! `x ∈ [0.1, 10)`, `y ∈ [−5, 5)`, one thread, the inline form takes 35–65 ms against the
//! shim's 12.5–16 ms, and in a fused region `tanh(y) + exp(−x)·x^y` 40–48 ms against 33–35 ms
//! with every function through its shim (`tests/polymath.rs`,
//! `pow_speed_inline_against_the_shim`, medians of 31 runs, on the shared 2-core machine
//! under load; `benches/pow.gd`: `sum(x ^ y)` 36–42 ms with the JIT, 10.9 ms interpreted).
//! The loop body (about 300 instructions for two lanes) is one dependency chain longer than
//! the reorder window, so consecutive vectors hardly overlap: it is latency-bound. What it buys: a region holding a `pow` keeps its vector loop (a shim call
//! makes the whole region scalar), and no call per element. A table-driven `log₂` and `2^z`
//! (as glibc's, the lanes' table entries loaded one by one) would be the way to make it
//! faster; [`Options::exact_math`](super::Options::exact_math) gives the shim meanwhile.
//!
//! References: T. J. Dekker, *A floating-point technique for extending the available
//! precision* (1971) for the exact product and double-double arithmetic; Sun's fdlibm
//! `e_pow.c` for the shape (a double-double `log₂`, the product split, `2^z` with a
//! correction term) and the C99 special-case table. The code here is written from those
//! descriptions.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, Value};
use gradc_runtime::tensor::DType;

use super::emit::Em;
use super::polymath::{SHIFT, SHIFT_BITS, SQRT_HALF_BITS};
use crate::ir::BinaryOp;

/// The documented error bound (ulps against libm) of the inline form of the binary op `b` on
/// `d`, or `None` if `b` has no inline approximation (exact IEEE operations, or the shim).
pub fn binary_ulp_bound(b: BinaryOp, d: DType) -> Option<u64> {
    match (b, d) {
        (BinaryOp::Pow, DType::F64) => Some(2),
        (BinaryOp::Pow, DType::F32) => Some(1),
        _ => None,
    }
}

/// ln 2 in double-double (the low part is the rounded remainder), and the double-double
/// constants of `log₂ m`: 2/ln 2 and (2/3)/ln 2.
const LN2_HI: f64 = std::f64::consts::LN_2;
const LN2_LO: f64 = 2.3190468138462996e-17;
const K2_HI: f64 = 2.8853900817779268;
const K2_LO: f64 = 4.0710547481862066e-17;
const C3_HI: f64 = 0.9617966939259756;
const C3_LO: f64 = 5.0577616648125907e-17;
/// `|y|` is clamped to this (see the module doc).
const Y_CLAMP: f64 = 1e270;
/// `|z|` beyond which `2^z` overflows or underflows to 0 whatever the rest.
const Z_CLAMP: f64 = 1200.0;

/// A double-double: the unevaluated sum `hi + lo`, `|lo| ≤ ulp(hi)/2` (about).
#[derive(Clone, Copy)]
struct Dd {
    hi: Value,
    lo: Value,
}

impl Em<'_, '_> {
    /// `x^y` (scalar or vector, `f64` or `f32` lanes) inline.
    pub fn fast_pow(&mut self, x: Value, y: Value) -> Value {
        self.widened_n(&[x, y], |em, a| em.pm_pow(a[0], a[1]))
    }

    fn pm_pow(&mut self, x: Value, y: Value) -> Value {
        let ax = self.b.ins().fabs(x);
        // |y| ≤ 1e270, NaN passes (and is replaced below).
        let hi = self.fcmp_k(FloatCC::GreaterThan, y, Y_CLAMP);
        let c = self.k(y, Y_CLAMP);
        let yc = self.sel(hi, c, y);
        let lo = self.fcmp_k(FloatCC::LessThan, yc, -Y_CLAMP);
        let c = self.k(y, -Y_CLAMP);
        let yc = self.sel(lo, c, yc);
        // z = y·log2|x| in double-double.
        let t = self.log2_dd(ax);
        let p = self.two_prod(yc, t.hi);
        let yt = self.b.ins().fmul(yc, t.lo);
        let l = self.b.ins().fadd(p.lo, yt);
        let z = self.fast2sum(p.hi, l);
        let mag = self.exp2_dd(z);
        self.pow_specials(x, y, ax, mag)
    }

    /// `log₂ a` in double-double for finite `a > 0` (see the module doc); garbage, but no
    /// trap, for 0, inf and NaN, which the caller replaces.
    fn log2_dd(&mut self, a: Value) -> Dd {
        // 2^e·m, m ∈ [√2/2, √2), as the inline log (subnormals scaled by 2^54 first).
        let tiny = self.fcmp_k(FloatCC::LessThan, a, f64::MIN_POSITIVE);
        let xs = self.mul_k(a, 18014398509481984.0); // 2^54
        let xs = self.sel(tiny, xs, a);
        let c54 = self.k(a, 54.0);
        let c0 = self.k(a, 0.0);
        let ebias = self.sel(tiny, c54, c0);
        let bits = self.bits_of(xs);
        let ix = self.iadd_k(bits, 0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
        let n = self.b.ins().iconst(types::I64, 52);
        let eb = self.b.ins().ushr(ix, n);
        let mb = self.band_k(ix, 0x000f_ffff_ffff_ffff);
        let mb = self.iadd_k(mb, SQRT_HALF_BITS);
        let m = self.float_of(mb);
        let eb = self.iadd_k(eb, SHIFT_BITS);
        let ef = self.float_of(eb);
        let ef = self.add_k(ef, -SHIFT - 1023.0);
        let ef = self.b.ins().fsub(ef, ebias);
        // s = (m − 1)/(m + 1): u = m − 1 exact; v = 1 + m by Fast2Sum (exponent of 1 ≥ m's);
        // one reciprocal: s.hi = u·(1/v.hi), s.lo = (u − s.hi·v.hi − s.hi·v.lo)/v.hi with
        // s.hi·v.hi exact (s.hi need not be the rounded quotient: s.lo carries the rest).
        let u = self.add_k(m, -1.0);
        let one = self.k(a, 1.0);
        let v = self.fast2sum(one, m);
        let inv = self.b.ins().fdiv(one, v.hi);
        let sh = self.b.ins().fmul(u, inv);
        let p = self.two_prod(sh, v.hi);
        let r = self.b.ins().fsub(u, p.hi);
        let r = self.b.ins().fsub(r, p.lo);
        let sv = self.b.ins().fmul(sh, v.lo);
        let r = self.b.ins().fsub(r, sv);
        let sl = self.b.ins().fmul(r, inv);
        let s = Dd { hi: sh, lo: sl };
        // w = s² (double-double).
        let w = self.two_prod(sh, sh);
        let ss = self.b.ins().fmul(sh, sl);
        let ss = self.b.ins().fadd(ss, ss);
        let wl = self.b.ins().fadd(w.lo, ss);
        let w = Dd { hi: w.hi, lo: wl };
        // log2 m = (2/ln 2)·s + s³·c, c = (2/3)/ln 2 + w·R(w)/ln 2,
        // R(w) = 2/5 + 2w/7 + … + 2w¹⁰/25 (Estrin's scheme: a short dependency chain);
        // 2/ln 2, (2/3)/ln 2 and the head of c in double-double.
        let coef: Vec<f64> = (0..11).map(|j| 2.0 / (2 * j + 5) as f64 / std::f64::consts::LN_2).collect();
        let rw = self.estrin(w.hi, &coef);
        let t = self.b.ins().fmul(w.hi, rw);
        let c3 = self.k(a, C3_HI);
        let c = self.fast2sum(c3, t);
        let wr = self.mul_k(w.lo, coef[0]);
        let cl = self.add_k(c.lo, C3_LO);
        let cl = self.b.ins().fadd(cl, wr);
        let c = Dd { hi: c.hi, lo: cl };
        let s3 = self.dd_mul(s, w);
        let q = self.dd_mul(s3, c);
        let k2 = Dd { hi: self.k(a, K2_HI), lo: self.k(a, K2_LO) };
        let l = self.dd_mul(s, k2);
        let g = self.two_sum(l.hi, q.hi);
        let gl = self.b.ins().fadd(l.lo, q.lo);
        let gl = self.b.ins().fadd(g.lo, gl);
        // + e (exact integer; TwoSum: e may be 0 or smaller than log2 m).
        let t = self.two_sum(ef, g.hi);
        let tl = self.b.ins().fadd(t.lo, gl);
        self.fast2sum(t.hi, tl)
    }

    /// `2^z` for a double-double `z` (see the module doc); inf for large `z`, 0 for very
    /// negative `z`, through the subnormals rounded once.
    fn exp2_dd(&mut self, z: Dd) -> Value {
        // |z.hi| ≤ 1200 (NaN passes); where clamped, z.lo = 0.
        let az = self.b.ins().fabs(z.hi);
        let big = self.fcmp_k(FloatCC::UnorderedOrGreaterThan, az, Z_CLAMP);
        let hi = self.fcmp_k(FloatCC::GreaterThan, z.hi, Z_CLAMP);
        let c = self.k(z.hi, Z_CLAMP);
        let zh = self.sel(hi, c, z.hi);
        let lo = self.fcmp_k(FloatCC::LessThan, zh, -Z_CLAMP);
        let c = self.k(z.hi, -Z_CLAMP);
        let zh = self.sel(lo, c, zh);
        let zero = self.k(z.hi, 0.0);
        let zl = self.sel(big, zero, z.lo);
        // k = round(z.hi); r = (z.hi − k) + z.lo, z.hi − k exact.
        let t = self.add_k(zh, SHIFT);
        let kf = self.add_k(t, -SHIFT);
        let rh = self.b.ins().fsub(zh, kf);
        // t = r·ln 2 (double-double), |t| ≤ 0.35.
        let ln2h = self.k(zh, LN2_HI);
        let p = self.two_prod(rh, ln2h);
        let a = self.mul_k(rh, LN2_LO);
        let b = self.mul_k(zl, LN2_HI);
        let ab = self.b.ins().fadd(a, b);
        let tl = self.b.ins().fadd(p.lo, ab);
        let t = self.fast2sum(p.hi, tl);
        // e^t = 1 + t.hi + (t.hi²·q(t.hi) + t.lo·(1 + t.hi)), 1 + t.hi's error recovered.
        let mut c = [0.0; 12];
        let mut fact = 2.0;
        for (i, ci) in c.iter_mut().enumerate() {
            *ci = 1.0 / fact;
            fact *= (i + 3) as f64;
        }
        let q = self.estrin(t.hi, &c);
        let t2 = self.b.ins().fmul(t.hi, t.hi);
        let s = self.b.ins().fmul(t2, q);
        let one = self.k(zh, 1.0);
        let e1 = self.fast2sum(one, t.hi);
        let tlt = self.b.ins().fmul(t.lo, t.hi);
        let tlt = self.b.ins().fadd(t.lo, tlt);
        let s = self.b.ins().fadd(s, tlt);
        let s = self.b.ins().fadd(e1.lo, s);
        let y = self.b.ins().fadd(e1.hi, s);
        // 2^k = 2^k1 · 2^k2, k1 = round(k/2), both normal.
        let h = self.mul_k(kf, 0.5);
        let h = self.add_k(h, SHIFT);
        let k1 = self.add_k(h, -SHIFT);
        let k2 = self.b.ins().fsub(kf, k1);
        let s1 = self.pow2(k1);
        let s2 = self.pow2(k2);
        let y = self.b.ins().fmul(y, s1);
        self.b.ins().fmul(y, s2)
    }

    /// The special cases of `pow` over `mag ≈ |x|^y` (see the module doc).
    fn pow_specials(&mut self, x: Value, y: Value, ax: Value, mag: Value) -> Value {
        let inf = self.k(x, f64::INFINITY);
        let zero = self.k(x, 0.0);
        let yneg = self.fcmp_k(FloatCC::LessThan, y, 0.0);
        // |x| = 0: +inf for y < 0, else +0; |x| = inf: the reverse.
        let r0 = self.sel(yneg, inf, zero);
        let x0 = self.fcmp_k(FloatCC::Equal, ax, 0.0);
        let r = self.sel(x0, r0, mag);
        let rinf = self.sel(yneg, zero, inf);
        let xinf = self.fcmp_k(FloatCC::Equal, ax, f64::INFINITY);
        let r = self.sel(xinf, rinf, r);
        // Integer and odd y; a negative x (its sign bit: −0 too) and an odd y negate.
        let fy = self.b.ins().floor(y);
        let yint = self.b.ins().fcmp(FloatCC::Equal, fy, y);
        let h = self.mul_k(y, 0.5);
        let fh = self.b.ins().floor(h);
        let half_frac = self.b.ins().fcmp(FloatCC::NotEqual, fh, h);
        let yodd = self.b.ins().band(yint, half_frac);
        let xb = self.bits_of(x);
        let ity = Self::int_ty(self.b.func.dfg.value_type(x));
        let zi = self.splat_i(ity, 0);
        let xneg = self.b.ins().icmp(IntCC::SignedLessThan, xb, zi);
        let flip = self.b.ins().band(xneg, yodd);
        let nr = self.b.ins().fneg(r);
        let r = self.sel(flip, nr, r);
        // Finite x < 0 with a non-integer y: NaN.
        let lt0 = self.fcmp_k(FloatCC::LessThan, x, 0.0);
        let fin = self.fcmp_k(FloatCC::GreaterThan, x, f64::NEG_INFINITY);
        let neg_fin = self.b.ins().band(lt0, fin);
        let bad = self.b.ins().band_not(neg_fin, yint);
        let nan = self.k(x, f64::NAN);
        let r = self.sel(bad, nan, r);
        // NaN in, NaN out; then x^±0 = 1^y = 1.
        let un = self.b.ins().fcmp(FloatCC::Unordered, x, y);
        let xy = self.b.ins().fadd(x, y);
        let r = self.sel(un, xy, r);
        let y0 = self.fcmp_k(FloatCC::Equal, y, 0.0);
        let x1 = self.fcmp_k(FloatCC::Equal, x, 1.0);
        let one = self.b.ins().bor(y0, x1);
        let c1 = self.k(x, 1.0);
        self.sel(one, c1, r)
    }

    // --- double-double arithmetic -----------------------------------------------------

    /// `a = hi + lo` exactly, `hi` the top 26 bits of `a`'s significand (its low 27 bits
    /// cleared), `lo` the rest (≤ 27 bits): `hi·hi` and `hi·lo` are exact, `lo·lo` within
    /// 2⁻¹⁰⁶ of `a²`, which is all the exact product below needs. Two integer-domain
    /// operations instead of Veltkamp's three dependent floating-point ones.
    fn split(&mut self, a: Value) -> Dd {
        let bits = self.bits_of(a);
        let hb = self.band_k(bits, !((1 << 27) - 1));
        let hi = self.float_of(hb);
        let lo = self.b.ins().fsub(a, hi);
        Dd { hi, lo }
    }

    /// `c[0] + c[1]·x + … ` by Estrin's scheme (pairs `c[2i] + c[2i+1]·x`, then pairs of
    /// those in `x²`, …): the same operations for every lane, a dependency chain of about
    /// log₂(n) multiply-adds instead of Horner's n.
    fn estrin(&mut self, x: Value, c: &[f64]) -> Value {
        let mut terms: Vec<Value> = c
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    let t = self.mul_k(x, p[1]);
                    self.add_k(t, p[0])
                } else {
                    self.k(x, p[0])
                }
            })
            .collect();
        let mut xp = self.b.ins().fmul(x, x);
        while terms.len() > 1 {
            terms = terms
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        let t = self.b.ins().fmul(p[1], xp);
                        self.b.ins().fadd(p[0], t)
                    } else {
                        p[0]
                    }
                })
                .collect();
            if terms.len() > 1 {
                xp = self.b.ins().fmul(xp, xp);
            }
        }
        terms[0]
    }

    /// Dekker's exact product: `a·b = hi + lo` exactly (barring under/overflow).
    fn two_prod(&mut self, a: Value, b: Value) -> Dd {
        let p = self.b.ins().fmul(a, b);
        let x = self.split(a);
        let y = self.split(b);
        let hh = self.b.ins().fmul(x.hi, y.hi);
        let e = self.b.ins().fsub(hh, p);
        let hl = self.b.ins().fmul(x.hi, y.lo);
        let e = self.b.ins().fadd(e, hl);
        let lh = self.b.ins().fmul(x.lo, y.hi);
        let e = self.b.ins().fadd(e, lh);
        let ll = self.b.ins().fmul(x.lo, y.lo);
        let lo = self.b.ins().fadd(e, ll);
        Dd { hi: p, lo }
    }

    /// Fast2Sum: `a + b = hi + lo` exactly when `a`'s exponent is at least `b`'s.
    fn fast2sum(&mut self, a: Value, b: Value) -> Dd {
        let hi = self.b.ins().fadd(a, b);
        let d = self.b.ins().fsub(hi, a);
        let lo = self.b.ins().fsub(b, d);
        Dd { hi, lo }
    }

    /// Knuth's TwoSum: `a + b = hi + lo` exactly, any order of magnitude.
    fn two_sum(&mut self, a: Value, b: Value) -> Dd {
        let hi = self.b.ins().fadd(a, b);
        let bb = self.b.ins().fsub(hi, a);
        let ab = self.b.ins().fsub(hi, bb);
        let da = self.b.ins().fsub(a, ab);
        let db = self.b.ins().fsub(b, bb);
        let lo = self.b.ins().fadd(da, db);
        Dd { hi, lo }
    }

    /// `a·b` in double-double (the `lo·lo` term dropped), renormalized.
    fn dd_mul(&mut self, a: Dd, b: Dd) -> Dd {
        let p = self.two_prod(a.hi, b.hi);
        let x = self.b.ins().fmul(a.hi, b.lo);
        let y = self.b.ins().fmul(a.lo, b.hi);
        let xy = self.b.ins().fadd(x, y);
        let e = self.b.ins().fadd(p.lo, xy);
        self.fast2sum(p.hi, e)
    }
}
