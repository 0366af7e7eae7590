//! The elementwise semantics of every [`UnaryOp`], [`BinaryOp`],
//! [`Op::PowInt`](super::Op::PowInt) and [`Op::Convert`](super::Op::Convert), on one element,
//! per element type. The interpreter applies these functions element by element; the JIT
//! must reproduce them bit for bit, and the constant folder uses them through the
//! interpreter. This doc is the contract.
//!
//! # Floats (`f64`, and `f32` computed in `f32` throughout)
//!
//! - IEEE arithmetic: `add sub mul div` are `+ - * /`; `rem` is Rust's `%` (the result has the
//!   sign of the dividend, `x % 0` is NaN); `pow` is `powf`; `neg` is `-x`; `abs` is `abs`.
//! - `exp log sin cos tan tanh sqrt floor ceil` are std's (`ln` for `log`); `erf` is
//!   `libm::erf` / `libm::erff`.
//! - `sigmoid`, stable: `x >= 0`: `1 / (1 + exp(-x))`; otherwise (also NaN)
//!   `e / (1 + e)` with `e = exp(x)`.
//! - `relu`: `x` if `x > 0`; NaN stays NaN; otherwise `+0.0` (so `relu(-0.0)` is `+0.0`).
//! - `softplus`: `max(x, 0) + ln_1p(exp(-|x|))` with `max` as below (NaN propagates).
//! - `gelu`, the exact (erf) form: `0.5 * x * (1 + erf(x / SQRT_2))`, evaluated left to
//!   right, i.e. `(0.5 * x) * (1 + erf(x / SQRT_2))` with the constant of the float type.
//! - `sign`: `1` for `x > 0`, `-1` for `x < 0`, otherwise `x` itself (keeps `±0` and NaN).
//! - `max`/`min`: NaN if either operand is NaN; otherwise `if a >= b { a } else { b }`
//!   (resp. `<=`), so at a tie — including `+0` against `-0` — the FIRST operand is returned.
//! - comparisons are IEEE: any comparison with NaN is false, except `ne`, which is true.
//! - `powi(x, n)`: exact repeated multiplication by binary exponentiation of `|n|`:
//!   ```text
//!   acc = 1; base = x; e = |n|
//!   while e > 0 { if e & 1 == 1 { acc = acc * base }; base = base * base; e >>= 1 }
//!   result = if n < 0 { 1 / acc } else { acc }
//!   ```
//!   Every product is rounded to the float type (no fused multiply-add). `n = 0` gives `1`,
//!   even for a NaN `x`.
//!
//! # `i64`
//!
//! `add sub mul neg abs` wrap around (two's complement). `div` truncates toward zero and
//! `rem` has the sign of the dividend (Rust's `/` and `%`); a zero divisor is an error
//! (`None` here); `i64::MIN / -1` wraps to `i64::MIN` and `i64::MIN % -1` is `0`. `sign` is
//! `signum`; `max`, `min` and the comparisons are the usual ones.
//!
//! # `bool`
//!
//! `not`, `and`, `or`, `xor`, `eq`, `ne`.
//!
//! # Conversions
//!
//! Float to `i64` is Rust's `as` (truncates toward zero, saturates at the `i64` range, NaN
//! gives 0); `i64` to float is `as` (round to nearest even); `f64` ↔ `f32` is `as` (round to
//! nearest even; overflow gives ±inf); `bool` to a number is 0 or 1; a number to `bool` is
//! `x != 0` (so NaN is `true`, `-0.0` is `false`).
//!
//! An op that the type rule ([`super::op`]) excludes for an element type (e.g. `not` on
//! `f64`) is a bug in the caller: these functions panic on it.

use super::op::{BinaryOp, UnaryOp};

/// Generates the float functions for one float type, so that `f64` and `f32` are the same
/// text with a different type (and `erf`).
macro_rules! float_semantics {
    ($t:ident, $unary:ident, $binary:ident, $compare:ident, $powi:ident, $max:ident, $min:ident,
     $erf:path) => {
        /// The value of a unary op on one element (see the module doc).
        pub fn $unary(op: UnaryOp, x: $t) -> $t {
            use UnaryOp::*;
            match op {
                Neg => -x,
                Abs => x.abs(),
                Exp => x.exp(),
                Log => x.ln(),
                Sin => x.sin(),
                Cos => x.cos(),
                Tan => x.tan(),
                Tanh => x.tanh(),
                Sqrt => x.sqrt(),
                Floor => x.floor(),
                Ceil => x.ceil(),
                Erf => $erf(x),
                Sigmoid => {
                    if x >= 0.0 {
                        1.0 / (1.0 + (-x).exp())
                    } else {
                        let e = x.exp();
                        e / (1.0 + e)
                    }
                }
                Relu => {
                    if x > 0.0 || x.is_nan() {
                        x
                    } else {
                        0.0
                    }
                }
                Softplus => $max(x, 0.0) + (-x.abs()).exp().ln_1p(),
                Gelu => 0.5 * x * (1.0 + $erf(x / std::$t::consts::SQRT_2)),
                Sign => {
                    if x > 0.0 {
                        1.0
                    } else if x < 0.0 {
                        -1.0
                    } else {
                        x
                    }
                }
                Not => panic!("`not` is not defined on {}", stringify!($t)),
            }
        }

        /// The value of an arithmetic binary op (not a comparison) on one pair of elements.
        pub fn $binary(op: BinaryOp, a: $t, b: $t) -> $t {
            use BinaryOp::*;
            match op {
                Add => a + b,
                Sub => a - b,
                Mul => a * b,
                Div => a / b,
                Rem => a % b,
                Pow => a.powf(b),
                Max => $max(a, b),
                Min => $min(a, b),
                _ => panic!("`{}` is not an arithmetic op on {}", op.name(), stringify!($t)),
            }
        }

        /// The value of a comparison (`eq ne lt le gt ge`), IEEE.
        pub fn $compare(op: BinaryOp, a: $t, b: $t) -> bool {
            use BinaryOp::*;
            match op {
                Eq => a == b,
                Ne => a != b,
                Lt => a < b,
                Le => a <= b,
                Gt => a > b,
                Ge => a >= b,
                _ => panic!("`{}` is not a comparison", op.name()),
            }
        }

        /// `x` to the integer power `n` by binary exponentiation (see the module doc).
        pub fn $powi(x: $t, n: i64) -> $t {
            let mut acc: $t = 1.0;
            let mut base = x;
            let mut e = n.unsigned_abs();
            while e > 0 {
                if e & 1 == 1 {
                    acc *= base;
                }
                base *= base;
                e >>= 1;
            }
            if n < 0 {
                1.0 / acc
            } else {
                acc
            }
        }

        /// NaN if either is NaN; at a tie (also `+0` against `-0`) the first operand.
        pub fn $max(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a >= b {
                a
            } else {
                b
            }
        }

        /// NaN if either is NaN; at a tie (also `+0` against `-0`) the first operand.
        pub fn $min(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a <= b {
                a
            } else {
                b
            }
        }
    };
}

float_semantics!(f64, unary_f64, binary_f64, compare_f64, powi_f64, max_f64, min_f64, libm::erf);
float_semantics!(f32, unary_f32, binary_f32, compare_f32, powi_f32, max_f32, min_f32, libm::erff);

/// The value of a unary op on an `i64` (`neg`, `abs`, `sign`), wrapping.
pub fn unary_i64(op: UnaryOp, x: i64) -> i64 {
    match op {
        UnaryOp::Neg => x.wrapping_neg(),
        UnaryOp::Abs => x.wrapping_abs(),
        UnaryOp::Sign => x.signum(),
        _ => panic!("`{}` is not defined on i64", op.name()),
    }
}

/// The value of an arithmetic binary op on `i64`s; `None` for a zero divisor of `div`/`rem`.
pub fn binary_i64(op: BinaryOp, a: i64, b: i64) -> Option<i64> {
    use BinaryOp::*;
    Some(match op {
        Add => a.wrapping_add(b),
        Sub => a.wrapping_sub(b),
        Mul => a.wrapping_mul(b),
        Div => return (b != 0).then(|| a.wrapping_div(b)),
        Rem => return (b != 0).then(|| a.wrapping_rem(b)),
        Max => a.max(b),
        Min => a.min(b),
        _ => panic!("`{}` is not an arithmetic op on i64", op.name()),
    })
}

/// The value of a comparison on `i64`s.
pub fn compare_i64(op: BinaryOp, a: i64, b: i64) -> bool {
    use BinaryOp::*;
    match op {
        Eq => a == b,
        Ne => a != b,
        Lt => a < b,
        Le => a <= b,
        Gt => a > b,
        Ge => a >= b,
        _ => panic!("`{}` is not a comparison", op.name()),
    }
}

/// The value of a unary op on a `bool` (only `not`).
pub fn unary_bool(op: UnaryOp, x: bool) -> bool {
    match op {
        UnaryOp::Not => !x,
        _ => panic!("`{}` is not defined on bool", op.name()),
    }
}

/// The value of a binary op on `bool`s (`and or xor eq ne`).
pub fn binary_bool(op: BinaryOp, a: bool, b: bool) -> bool {
    use BinaryOp::*;
    match op {
        And => a & b,
        Or => a | b,
        Xor => a ^ b,
        Eq => a == b,
        Ne => a != b,
        _ => panic!("`{}` is not defined on bool", op.name()),
    }
}
