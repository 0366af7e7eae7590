//! The inline, vectorizable float `pow` (`x^y`, [`BinaryOp::Pow`](crate::ir::BinaryOp::Pow)),
//! emitted as Cranelift IR on a scalar `f64` or a vector `f64x2` (an `f32` operand is widened,
//! computed in `f64` and rounded once, as for the functions of `polymath.rs`). One branch
//! per vector, to a cold general path that every special case takes as a lane select; a
//! lane's bits never depend on the other lanes, so the vector loop and the scalar tail give
//! the same bits. Used unless [`Options::exact_math`](super::Options::exact_math) asks for the
//! interpreter's `powf` (the shim `gd_pow_*` of `math.rs`).
//!
//! # Method
//!
//! `x^y = e^(y·ln|x|)`, the sign put back for negative `x` and odd integer `y`. An error `δ`
//! in `y·ln|x|` is a relative error `δ` of the result, and `|y·ln|x||` reaches 745 before
//! the result underflows, so `ln|x|` is carried as `hi + lo` to about 2⁻⁶⁸ relative and the
//! product as `e_hi + e_lo`. The shape is that of glibc's / ARM optimized-routines' `pow`
//! (two 128-entry tables), in the variant **without fused multiply-add** (Cranelift's `fma`
//! is a libcall without FMA target flags, and the bits must not depend on the CPU): every
//! product that must be exact has factors short enough to be exact. The tables are built
//! at first use from `+ − × ÷` and `mul_add` in double-double (the same bits on every host)
//! and the emitted code loads them through their address (a constant in the code): per lane
//! a 16-byte load of an entry's first two fields (the lanes' halves then interleaved), as
//! `extractlane` → address → `load` (→ `insertlane` for an 8-byte field).
//!
//! - `ln a`: `a = 2^k·z`, `z ∈ [OFF, 2·OFF)`, `OFF ≈ 0.7057` (by integer operations on the
//!   bits; subnormals scaled by 2⁵⁴ first on the general path); the interval `i` is the top 7
//!   bits of `z`'s offset significand; its entry holds `1/c` (≤ 9 significant bits, `c` near
//!   the interval's middle; `c = 1` on the interval holding 1, so there is no cancellation
//!   for `a` near 1) and `ln c` as a multiple of 2⁻⁴³ plus a tail. `r = z/c − 1` computed
//!   exactly as `r_hi + r_lo` (`z_hi`, `z` rounded to 21 bits, times `1/c` is exact, then
//!   `− 1`; `r_lo = (z − z_hi)/c` rounded), `|r| < 0.0068`. `ln a = k·ln2_hi + ln c + r`
//!   (the first sum exact: `ln2_hi` has 42 bits; the second by TwoSum) `− r²/2` (its head
//!   `−r_hi²/2` exact, added by Fast2Sum, the cross term `−r_lo·(r + r_hi)/2` in the tail)
//!   `+ r³·P(r)` with `P` the Taylor polynomial `1/3 − r/4 + … + r⁶/9` (truncation below
//!   2⁻⁶⁸ of `ln(1 + r)`), the low parts (`k·ln2_lo`, the tail of `ln c`, the rounding
//!   errors) summed into `lo`.
//! - `y·ln a`: `y` and `hi` cut to 26 bits, `e_hi = y_hi·hi_hi` exact,
//!   `e_lo = y_lo·hi_hi + y·(hi_lo + lo)`; on the general path `|y|` is clamped to 10²⁷⁰
//!   first (the products must not overflow; beyond that the result is 0, inf or — for
//!   `|x| = 1` — 1 either way, and a clamped huge `y` stays an even integer).
//! - `e^(e_hi + e_lo)`: `kd = round(e_hi·128/ln 2) = 128·k + j` (through `1.5·2⁵²`),
//!   `r = e_hi − kd·L_hi − kd·L_lo + e_lo` (Cody–Waite, `L_hi` = ln 2/128 to 35 bits so
//!   `kd·L_hi` is exact), `|r| < 0.0028`; `e^r − 1` by its Taylor polynomial to degree 5
//!   (truncation below 2⁻⁶⁰); the table's `2^(j/128) = t_hi·(1 + t_tail)`; the result
//!   `2^k·(t_hi + t_hi·(t_tail + r + r²·q(r)))`.
//! - **Fast path**: the above is computed for every lane (garbage, but no trap and no load out
//!   of the tables, where it does not apply) with `2^k` put straight into the exponent
//!   field. If every lane of the vector has a positive normal finite `x` and
//!   `|e_hi| < 600` (so an infinite or NaN `y` fails too), that is the result: a branch per
//!   vector, almost never taken on ordinary data. Otherwise a cold block computes the
//!   **general path** for the vector: the same operations plus the clamps, the subnormal
//!   scaling, `e_hi` clamped to ±1200 (`e_lo = 0` there), `2^k = 2^k₁·2^k₂` so overflow gives
//!   inf and a result in the subnormal range is rounded once from the 53-bit `2^(j/128)·e^r`
//!   (so within 1 ulp there), and the special cases. Its bits equal the fast path's on the
//!   lanes the fast path covers (the selects leave them alone; `|e_hi| < 600` keeps `2^k`
//!   and every product normal), so a lane's result never depends on its neighbour and the
//!   vector loop and the scalar tail agree.
//! - Special values (C99 / IEEE 754 `pow`, as libm's `pow` which the interpreter calls),
//!   by lane masks: `x^±0 = 1` and `1^y = 1` even for NaN; otherwise NaN in, NaN out;
//!   `y` is an integer iff `floor(y) = y` (±inf count as even integers, as in C), odd iff
//!   also `floor(y/2) ≠ y/2` (every `|y| ≥ 2⁵³` is even); finite `x < 0` with a non-integer
//!   `y`: NaN; `|x| = 0`: `+inf` for `y < 0`, else `+0`; `|x| = inf`: `+0` for `y < 0`, else
//!   `+inf`; then a negative `x` (−0 and −inf included) with an odd `y` negates.
//!   `(−1)^±inf = 1`, `|x| < 1` or `> 1` with `±inf` come out of the general path
//!   (`±10²⁷⁰·ln|x|` is 0 or clamped).
//!
//! # Bound
//!
//! [`binary_ulp_bound`]: **2 ulp** in `f64` (measured max 1 ulp: about 1.3 % of the results
//! are 1 ulp from libm's on the test's 2.1·10⁶ inputs, none more; zeros and infinities,
//! underflow to 0 and overflow to inf included, are libm's bit for bit) and **1 ulp** in
//! `f32` (measured 1: the `f64` result, within 1 `f64` ulp, rounded once to `f32` is the
//! correctly rounded value except in double-rounding cases, about 2⁻²⁹ of them; glibc's
//! `powf` is itself not correctly rounded). Checked by `compiler/tests/polymath.rs`.
//!
//! # Speed
//!
//! The fast path is about 130 instructions for two lanes (five table loads per lane, no
//! division). On 10⁶ `f64` pairs, `x ∈ [0.1, 10)`, `y ∈ [−5, 5)`, one thread, in one run of
//! `tests/polymath.rs` `pow_speed_inline_against_the_shim` (medians of 31, the shared 2-core
//! machine under load): `x^y` 6.7–7.0 ms inline against 7.7–8.3 ms through the libm shim,
//! and 10.9–11.1 ms against 12.0–12.2 ms under heavier load (0.84–0.91×; the previous
//! double-double form without tables took 33 ms against 12.0 ms in one run); in a fused
//! region `tanh(y) + exp(−x)·x^y` 15.9–17.5 ms against 20.8–22.4 ms (24.5–24.8 against
//! 32.4–33.4 under heavier load, 0.74–0.78×) with every function through its shim. `benches/pow.gd` (`gradc run --quiet`): `sum(x ^ y)`
//! 8.1–9.6 ms (the double-double form: 22.4–23.6 ms, alternated runs), the fused one
//! 17.2–19.6 ms (31–32 ms); interpreted 12.6 ms and 32 ms. The loop body is one long
//! dependency chain (the table loads wait on the log, the exp on the product), so it is
//! latency- more than throughput-bound.
//!
//! References: glibc's `e_pow.c` / ARM optimized-routines `pow.c` (Szabolcs Nagy) for the
//! method: the table-driven `log` with `1/c` of few bits and `log c` rounded to 2⁻⁴³, the
//! split without FMA, `exp` with a `2^(j/N)` table and its tail; T. J. Dekker, *A
//! floating-point technique for extending the available precision* (1971) for the exact
//! products and sums; Sun's fdlibm `e_pow.c` for the C99 special-case table. The code, the
//! tables (generated here) and the polynomials (Taylor's) are written from those
//! descriptions; no table or coefficient is copied.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use gradc_runtime::tensor::DType;

use super::emit::Em;
use super::ops::little;
use super::polymath::{SHIFT, SHIFT_BITS};
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

/// ln 2 in double-double (the low part is the rounded remainder).
const LN2_HI: f64 = std::f64::consts::LN_2;
const LN2_LO: f64 = 2.3190468138462996e-17;
/// `|y|` is clamped to this (see the module doc).
const Y_CLAMP: f64 = 1e270;
/// `|y·ln x|` beyond which `e^(y·ln x)` overflows or underflows to 0 whatever the rest.
const Z_CLAMP: f64 = 1200.0;
/// The fast path's bound on `|y·ln x|`: `2^k` and every product normal (see `pm_pow`).
const FAST_Z: f64 = 600.0;
/// The log table's intervals start here: `z ∈ [OFF, 2·OFF)`, `OFF ≈ 0.7057` (its bits), so
/// that the interval holding 1 is split near its middle and gets `c = 1` (no cancellation of
/// `log c` against `log(z/c)` for `x` near 1).
const OFF: i64 = 0x3fe6_9555_0000_0000;
/// log₂ of the table sizes (both 128 entries).
const BITS: u32 = 7;
const N: usize = 1 << BITS;
/// Byte displacements of the tables in [`Tables`], and of the fields in a log entry.
const D_LOG: i32 = 0;
const D_EXP: i32 = 32 * N as i32;
const D_LOGCT: i32 = 16;

/// The tables, built once (from `+ − × ÷` and `mul_add` only, so the same bits on every
/// host) and read by the emitted code through their address. Interval `i` of the log is the
/// doubles whose bits lie in `[OFF + i·2⁴⁵, OFF + (i+1)·2⁴⁵)`; `c` is near its middle and
/// `1/c` has at most 9 significant bits (`round(128/m)/128` below 1, `round(256/m)/256`
/// above), so `z_hi·(1/c)` is exact for a 21-bit `z_hi`; `log c` is split as a multiple of
/// 2⁻⁴³ plus a tail, so `k·ln2_hi + log c` is exact. The exp table holds `2^(j/128)` as its
/// rounded value and the relative remainder. A lane reads an entry's first two fields with
/// one aligned 16-byte load (and the log's third with an 8-byte one).
#[repr(C, align(16))]
struct Tables {
    /// `[1/c, log c head, log c tail, 0]` for each interval.
    log: [[f64; 4]; N],
    /// `[tail, hi]`: `2^(j/128) = hi·(1 + tail)`.
    exp: [[f64; 2]; N],
}

fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = Tables { log: [[0.0; 4]; N], exp: [[0.0; 2]; N] };
        for i in 0..N {
            let lo = f64::from_bits((OFF + ((i as i64) << 45)) as u64);
            let hi = f64::from_bits((OFF + ((i as i64 + 1) << 45)) as u64);
            let m = 0.5 * (lo + hi);
            let invc = if m < 1.0 { (N as f64 / m).round() / N as f64 } else { (2.0 * N as f64 / m).round() / (2 * N) as f64 };
            // log c = −log(1/c).
            let l = dd::log(invc);
            let (l0, l1) = (-l.0, -l.1);
            let head = (l0 * 2f64.powi(43)).round() / 2f64.powi(43);
            t.log[i] = [invc, head, (l0 - head) + l1, 0.0];
            let e = dd::exp(dd::mul(dd::D(LN2_HI, LN2_LO), dd::D(i as f64 / N as f64, 0.0)));
            t.exp[i] = [e.1 / e.0, e.0];
        }
        t
    })
}

/// Double-double arithmetic on the host, for building the tables (exact products by
/// `mul_add`, which is correctly rounded everywhere).
mod dd {
    #[derive(Clone, Copy)]
    pub struct D(pub f64, pub f64);

    fn fast(a: f64, b: f64) -> D {
        let s = a + b;
        D(s, b - (s - a))
    }

    pub fn add(a: D, b: D) -> D {
        let s = a.0 + b.0;
        let bb = s - a.0;
        let e = (a.0 - (s - bb)) + (b.0 - bb);
        fast(s, e + a.1 + b.1)
    }

    pub fn mul(a: D, b: D) -> D {
        let p = a.0 * b.0;
        let e = a.0.mul_add(b.0, -p) + (a.0 * b.1 + a.1 * b.0);
        fast(p, e)
    }

    /// `a / n`, `n` a small integer.
    fn div_n(a: D, n: f64) -> D {
        let q = a.0 / n;
        let r = (-q).mul_add(n, a.0) + a.1;
        fast(q, r / n)
    }

    /// `e^t` for `|t| < 1`: the Taylor series to 2⁻¹¹⁰.
    pub fn exp(t: D) -> D {
        let (mut s, mut term) = (D(1.0, 0.0), D(1.0, 0.0));
        for n in 1..32 {
            term = div_n(mul(term, t), n as f64);
            s = add(s, term);
        }
        s
    }

    /// `ln a` for `a ∈ [0.5, 2]`: a start from `2·atanh((a−1)/(a+1))` in `f64`, then two
    /// Newton steps `y ← y + a·e^(−y) − 1`.
    pub fn log(a: f64) -> D {
        let s = (a - 1.0) / (a + 1.0);
        let w = s * s;
        let mut p = 0.0;
        for j in (0..30).rev() {
            p = p * w + 1.0 / (2 * j + 1) as f64;
        }
        let mut y = D(2.0 * s * p, 0.0);
        for _ in 0..2 {
            let e = mul(exp(D(-y.0, -y.1)), D(a, 0.0));
            y = add(y, add(e, D(-1.0, 0.0)));
        }
        y
    }
}

impl Em<'_, '_> {
    /// `x^y` (scalar or vector, `f64` or `f32` lanes) inline.
    pub fn fast_pow(&mut self, x: Value, y: Value) -> Value {
        self.widened_n(&[x, y], |em, a| em.pm_pow(a[0], a[1]))
    }

    /// The fast path (a branch per vector, almost never taken, to the general one): when
    /// every lane has a positive normal finite `x` and a finite `y`, and then
    /// `|y·ln x| < FAST_Z`, no special case applies and `2^k` is built directly. Its bits are
    /// the general path's: the general path only adds selects that leave such lanes alone.
    fn pm_pow(&mut self, x: Value, y: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        let base = self.b.ins().iconst(types::I64, tables() as *const Tables as i64);
        // The fast path, computed for every lane (garbage, but no trap and no load out of the
        // tables, for the lanes it does not apply to).
        let (eh, el) = self.y_log(base, x, y, false);
        let (ki, _, m) = self.exp_core(base, eh, el);
        // 2^k from k = ki >> 7 (bits 7.. of ki) put in the exponent field: |k| < 900.
        let n = self.b.ins().iconst(types::I64, 52 - BITS as i64);
        let e = self.b.ins().ishl(ki, n);
        let e = self.band_k(e, -1 << 52);
        let e = self.iadd_k(e, 1023 << 52);
        let s = self.float_of(e);
        let fast = self.b.ins().fmul(m, s);
        // Where it applies: x positive, normal and finite, and |y·ln x| < FAST_Z (false for a
        // NaN: an infinite or NaN y gives an infinite or NaN e_hi, ∞·0 = NaN for x = 1).
        let xn = self.fcmp_k(FloatCC::GreaterThanOrEqual, x, f64::MIN_POSITIVE);
        let xf = self.fcmp_k(FloatCC::LessThanOrEqual, x, f64::MAX);
        let ae = self.b.ins().fabs(eh);
        let ef = self.fcmp_k(FloatCC::LessThan, ae, FAST_Z);
        let ok = self.b.ins().band(xn, xf);
        let ok = self.b.ins().band(ok, ef);
        let ok = self.all_lanes(ok);
        let (slow, merge) = (self.b.create_block(), self.b.create_block());
        let res = self.b.append_block_param(merge, ty);
        self.b.set_cold_block(slow);
        self.b.ins().brif(ok, merge, &[fast.into()], slow, &[]);
        self.b.switch_to_block(slow);
        let (eh, el) = self.y_log(base, x, y, true);
        let mag = self.exp_dd(base, eh, el);
        let ax = self.b.ins().fabs(x);
        let r = self.pow_specials(x, y, ax, mag);
        self.b.ins().jump(merge, &[r.into()]);
        self.b.switch_to_block(merge);
        res
    }

    /// Whether every lane of the condition `c` is true (`c` itself for a scalar).
    fn all_lanes(&mut self, c: Value) -> Value {
        if self.b.func.dfg.value_type(c).is_vector() {
            self.b.ins().vall_true(c)
        } else {
            c
        }
    }

    /// `y·ln|x| = e_hi + e_lo` (`general`: `|y|` clamped and subnormal `x` handled): `y` and
    /// `l_hi` split in 26-bit halves, `e_hi = y_hi·l_hi'` exact.
    fn y_log(&mut self, base: Value, x: Value, y: Value, general: bool) -> (Value, Value) {
        let mut yc = y;
        if general {
            // |y| ≤ 1e270, NaN passes (and is replaced by the special cases).
            let hi = self.fcmp_k(FloatCC::GreaterThan, y, Y_CLAMP);
            let c = self.k(y, Y_CLAMP);
            yc = self.sel(hi, c, y);
            let lo = self.fcmp_k(FloatCC::LessThan, yc, -Y_CLAMP);
            let c = self.k(y, -Y_CLAMP);
            yc = self.sel(lo, c, yc);
        }
        let ax = self.b.ins().fabs(x);
        let (lh, ll) = self.log_dd(base, ax, general);
        let yh = self.hi26(yc);
        let yl = self.b.ins().fsub(yc, yh);
        let lhh = self.hi26(lh);
        let lhl = self.b.ins().fsub(lh, lhh);
        let lhl = self.b.ins().fadd(lhl, ll);
        let eh = self.b.ins().fmul(yh, lhh);
        let a = self.b.ins().fmul(yl, lhh);
        let b = self.b.ins().fmul(yc, lhl);
        let el = self.b.ins().fadd(a, b);
        (eh, el)
    }

    /// `ln a = hi + lo` (about 2⁻⁶⁸ relative) for finite `a > 0` (see the module doc);
    /// garbage, but no trap and no load out of the table, for 0, inf and NaN, which the
    /// caller replaces.
    fn log_dd(&mut self, base: Value, a: Value, general: bool) -> (Value, Value) {
        // a = 2^k·z, z ∈ [OFF, 2·OFF) (`general`: subnormals scaled by 2^54 first).
        let (xs, ebias) = if general {
            let tiny = self.fcmp_k(FloatCC::LessThan, a, f64::MIN_POSITIVE);
            let xs = self.mul_k(a, 18014398509481984.0); // 2^54
            let xs = self.sel(tiny, xs, a);
            let c54 = self.k(a, 54.0);
            let c0 = self.k(a, 0.0);
            (xs, Some(self.sel(tiny, c54, c0)))
        } else {
            (a, None)
        };
        let bits = self.bits_of(xs);
        let ix = self.iadd_k(bits, 0x3ff0_0000_0000_0000 - OFF);
        let n = self.b.ins().iconst(types::I64, 52);
        let eb = self.b.ins().ushr(ix, n);
        let eb = self.iadd_k(eb, SHIFT_BITS);
        let kf = self.float_of(eb);
        let kf = self.add_k(kf, -SHIFT - 1023.0);
        let kf = match ebias {
            Some(e) => self.b.ins().fsub(kf, e),
            None => kf,
        };
        let mb = self.band_k(ix, 0x000f_ffff_ffff_ffff);
        let iz = self.iadd_k(mb, OFF);
        let z = self.float_of(iz);
        // The interval: the top 7 bits of z's offset significand, as a byte offset.
        let n = self.b.ins().iconst(types::I64, 52 - BITS as i64 - 5);
        let off = self.b.ins().ushr(ix, n);
        let off = self.band_k(off, ((N - 1) << 5) as i64);
        let addrs = self.lane_addrs(base, off);
        let (invc, logc) = self.gather2(&addrs, D_LOG);
        let logct = self.gather(&addrs, D_LOG + D_LOGCT);
        // r = z/c − 1 = r_hi + r_lo: z_hi (21 bits)·invc (≤ 9 bits) is exact, so is − 1.
        let zh = self.iadd_k(iz, 1 << 31);
        let zh = self.band_k(zh, -1 << 32);
        let zh = self.float_of(zh);
        let zl = self.b.ins().fsub(z, zh);
        let rh = self.b.ins().fmul(zh, invc);
        let rh = self.add_k(rh, -1.0);
        let rl = self.b.ins().fmul(zl, invc);
        let r = self.b.ins().fadd(rh, rl);
        // k·ln2 + log c + r (k·ln2_hi + log c exact), its rounding errors kept.
        let (l2h, l2l) = ln2_split(42);
        let t1 = self.mul_k(kf, l2h);
        let t1 = self.b.ins().fadd(t1, logc);
        let (t2, lo2) = self.two_sum(t1, r);
        let lo1 = self.mul_k(kf, l2l);
        let lo1 = self.b.ins().fadd(lo1, logct);
        // − r²/2, its head −r_hi²/2 exact (r_hi has ≤ 22 bits), added by Fast2Sum.
        let arh = self.mul_k(rh, -0.5);
        let arh2 = self.b.ins().fmul(rh, arh);
        let hi = self.b.ins().fadd(t2, arh2);
        let lo4 = self.b.ins().fsub(t2, hi);
        let lo4 = self.b.ins().fadd(lo4, arh2);
        let ar = self.mul_k(r, -0.5);
        let s = self.b.ins().fadd(ar, arh);
        let lo3 = self.b.ins().fmul(rl, s);
        // log1p(r) − r + r²/2 = r³·(1/3 − r/4 + … + r⁶/9) (Taylor; |r| < 0.0068, the
        // truncation below 2⁻⁶⁸ of log1p(r)).
        let coef: Vec<f64> = (3..10).map(|j| if j % 2 == 1 { 1.0 } else { -1.0 } / j as f64).collect();
        let pr = self.estrin(r, &coef);
        let r2 = self.b.ins().fmul(r, r);
        let r3 = self.b.ins().fmul(r2, r);
        let p = self.b.ins().fmul(r3, pr);
        let lo = self.b.ins().fadd(lo1, lo2);
        let l34 = self.b.ins().fadd(lo3, lo4);
        let lo = self.b.ins().fadd(lo, l34);
        let lo = self.b.ins().fadd(lo, p);
        let y = self.b.ins().fadd(hi, lo);
        let tail = self.b.ins().fsub(hi, y);
        let tail = self.b.ins().fadd(tail, lo);
        (y, tail)
    }

    /// `e^(h + l)`, `|l|` below 2⁻¹⁵ (see the module doc); inf for large `h`, 0 for very
    /// negative `h`, through the subnormals rounded once.
    fn exp_dd(&mut self, base: Value, h: Value, l: Value) -> Value {
        // |h| ≤ 1200 (NaN passes); where clamped, l = 0.
        let ah = self.b.ins().fabs(h);
        let big = self.fcmp_k(FloatCC::UnorderedOrGreaterThan, ah, Z_CLAMP);
        let hi = self.fcmp_k(FloatCC::GreaterThan, h, Z_CLAMP);
        let c = self.k(h, Z_CLAMP);
        let x = self.sel(hi, c, h);
        let lo = self.fcmp_k(FloatCC::LessThan, x, -Z_CLAMP);
        let c = self.k(h, -Z_CLAMP);
        let x = self.sel(lo, c, x);
        let zero = self.k(h, 0.0);
        let l = self.sel(big, zero, l);
        let (ki, kd, m) = self.exp_core(base, x, l);
        // k = (kd − j)/128 exactly; 2^k = 2^k1·2^k2, k1 = round(k/2), both normal.
        let j = self.band_k(ki, (N - 1) as i64);
        let j = self.iadd_k(j, SHIFT_BITS);
        let jf = self.float_of(j);
        let jf = self.add_k(jf, -SHIFT);
        let kf = self.b.ins().fsub(kd, jf);
        let kf = self.mul_k(kf, 1.0 / N as f64);
        self.scale_by_pow2(m, kf)
    }

    /// `e^(x + l) = 2^k·m`: returns `ki` (the bits holding `kd = 128·k + j` in their low
    /// bits), `kd` and `m = 2^(j/128)·e^r`.
    fn exp_core(&mut self, base: Value, x: Value, l: Value) -> (Value, Value, Value) {
        // kd = round(x·128/ln 2) = 128·k + j; r = x − kd·ln2/128 (Cody–Waite, kd·L_hi exact) + l.
        let t = self.mul_k(x, N as f64 / LN2_HI);
        let t = self.add_k(t, SHIFT);
        let ki = self.bits_of(t);
        let kd = self.add_k(t, -SHIFT);
        let (l2h, l2l) = ln2_split(35);
        let (l2h, l2l) = (l2h / N as f64, l2l / N as f64);
        let a = self.mul_k(kd, l2h);
        let r = self.b.ins().fsub(x, a);
        let b = self.mul_k(kd, l2l);
        let r = self.b.ins().fsub(r, b);
        let r = self.b.ins().fadd(r, l);
        let n = self.b.ins().iconst(types::I64, 4);
        let off = self.b.ins().ishl(ki, n);
        let off = self.band_k(off, ((N - 1) << 4) as i64);
        let addrs = self.lane_addrs(base, off);
        let (tail, th) = self.gather2(&addrs, D_EXP);
        // e^r − 1 to degree 5 (Taylor; |r| < 0.0028, truncation below 2⁻⁶⁰).
        let r2 = self.b.ins().fmul(r, r);
        let p = self.estrin(r, &[0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0]);
        let p = self.b.ins().fmul(r2, p);
        let s = self.b.ins().fadd(tail, r);
        let s = self.b.ins().fadd(s, p);
        let s = self.b.ins().fmul(th, s);
        let m = self.b.ins().fadd(th, s);
        (ki, kd, m)
    }

    /// The address of each lane's table entry (`base + off`, `off` a byte offset).
    fn lane_addrs(&mut self, base: Value, off: Value) -> Vec<Value> {
        if !self.b.func.dfg.value_type(off).is_vector() {
            return vec![self.b.ins().iadd(base, off)];
        }
        (0..2)
            .map(|i| {
                let o = self.b.ins().extractlane(off, i);
                self.b.ins().iadd(base, o)
            })
            .collect()
    }

    /// The two `f64` at `addr + disp` (16-byte aligned) of each lane, as two scalars or two
    /// `f64x2` (one load per lane, then the low and the high halves interleaved).
    fn gather2(&mut self, addrs: &[Value], disp: i32) -> (Value, Value) {
        let fl = MemFlagsData::trusted().with_readonly();
        if addrs.len() == 1 {
            let a = self.b.ins().load(types::F64, fl, addrs[0], disp);
            let b = self.b.ins().load(types::F64, fl, addrs[0], disp + 8);
            return (a, b);
        }
        let v: Vec<Value> = addrs
            .iter()
            .map(|&a| {
                let w = self.b.ins().load(types::F64X2, fl, a, disp);
                self.b.ins().bitcast(types::I8X16, little(), w)
            })
            .collect();
        let mut half = |hi: usize| {
            let mask: Vec<u8> = (8 * hi as u8..8 * hi as u8 + 8).chain(16 + 8 * hi as u8..24 + 8 * hi as u8).collect();
            let imm = self.b.func.dfg.immediates.push(mask.into());
            let s = self.b.ins().shuffle(v[0], v[1], imm);
            self.b.ins().bitcast(types::F64X2, little(), s)
        };
        (half(0), half(1))
    }

    /// The `f64` at `addr + disp` of each lane, as a scalar or an `f64x2`.
    fn gather(&mut self, addrs: &[Value], disp: i32) -> Value {
        let fl = MemFlagsData::trusted().with_readonly();
        let v: Vec<Value> = addrs.iter().map(|&a| self.b.ins().load(types::F64, fl, a, disp)).collect();
        if v.len() == 1 {
            return v[0];
        }
        let w = self.b.ins().scalar_to_vector(types::F64X2, v[0]);
        self.b.ins().insertlane(w, v[1], 1)
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

    // --- helpers ----------------------------------------------------------------------

    /// `a` with the low 27 bits of its significand cleared (26 significant bits: the
    /// product of two such is exact).
    fn hi26(&mut self, a: Value) -> Value {
        let bits = self.bits_of(a);
        let hb = self.band_k(bits, !((1 << 27) - 1));
        self.float_of(hb)
    }

    /// `c[0] + c[1]·x + … ` by Estrin's scheme (pairs `c[2i] + c[2i+1]·x`, then pairs of
    /// those in `x²`, …): a dependency chain of about log₂(n) multiply-adds instead of n.
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

    /// Knuth's TwoSum: `a + b = hi + lo` exactly, any order of magnitude.
    fn two_sum(&mut self, a: Value, b: Value) -> (Value, Value) {
        let hi = self.b.ins().fadd(a, b);
        let bb = self.b.ins().fsub(hi, a);
        let ab = self.b.ins().fsub(hi, bb);
        let da = self.b.ins().fsub(a, ab);
        let db = self.b.ins().fsub(b, bb);
        let lo = self.b.ins().fadd(da, db);
        (hi, lo)
    }
}

/// ln 2 = `hi + lo`, `hi` a multiple of 2^-`bits` (so `k·hi` is exact for `|k|` up to
/// 2^(52 − bits)), `lo` the rest rounded.
fn ln2_split(bits: i32) -> (f64, f64) {
    let s = 2f64.powi(bits);
    let hi = (LN2_HI * s).round() / s;
    (hi, (LN2_HI - hi) + LN2_LO)
}
