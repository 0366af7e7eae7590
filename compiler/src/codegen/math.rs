//! The functions compiled code calls for what Cranelift has no instruction for: `exp`, `log`,
//! `sin`, … and the float `pow` and `rem`. Each is an `extern "C"` shim around the very
//! function the interpreter applies ([`crate::ir::scalar`]), registered with the JIT under
//! its name, so the JIT's results are the interpreter's bit for bit by construction.
//!
//! By default the hot ones (`exp log sin cos tan tanh sigmoid erf softplus gelu`, and `pow`)
//! are inline approximations (`polymath.rs`, `polypow.rs`), which call these only for
//! out-of-range arguments of `sin`/`cos`/`tan`; these are the exact path
//! ([`super::Options::exact_math`]) and the only one for `rem`.

use gradc_runtime::tensor::DType;

use crate::ir::scalar;
use crate::ir::{BinaryOp, UnaryOp};

macro_rules! shims {
    ($( $op:ident: $f64name:ident, $f32name:ident; )*) => {
        $(
            extern "C" fn $f64name(x: f64) -> f64 {
                scalar::unary_f64(UnaryOp::$op, x)
            }
            extern "C" fn $f32name(x: f32) -> f32 {
                scalar::unary_f32(UnaryOp::$op, x)
            }
        )*

        /// The shim computing a unary op that needs one, by symbol name.
        pub(super) fn unary(op: UnaryOp, dtype: DType) -> Option<&'static str> {
            match (op, dtype) {
                $(
                    (UnaryOp::$op, DType::F64) => Some(stringify!($f64name)),
                    (UnaryOp::$op, DType::F32) => Some(stringify!($f32name)),
                )*
                _ => None,
            }
        }

        /// Every shim: its symbol name and address.
        pub(super) fn symbols() -> Vec<(&'static str, *const u8)> {
            let mut v: Vec<(&'static str, *const u8)> = vec![
                $(
                    (stringify!($f64name), $f64name as extern "C" fn(f64) -> f64 as *const u8),
                    (stringify!($f32name), $f32name as extern "C" fn(f32) -> f32 as *const u8),
                )*
            ];
            v.extend([
                ("gd_pow_f64", gd_pow_f64 as extern "C" fn(f64, f64) -> f64 as *const u8),
                ("gd_pow_f32", gd_pow_f32 as extern "C" fn(f32, f32) -> f32 as *const u8),
                ("gd_rem_f64", gd_rem_f64 as extern "C" fn(f64, f64) -> f64 as *const u8),
                ("gd_rem_f32", gd_rem_f32 as extern "C" fn(f32, f32) -> f32 as *const u8),
            ]);
            v
        }
    };
}

shims! {
    Exp: gd_exp_f64, gd_exp_f32;
    Log: gd_log_f64, gd_log_f32;
    Sin: gd_sin_f64, gd_sin_f32;
    Cos: gd_cos_f64, gd_cos_f32;
    Tan: gd_tan_f64, gd_tan_f32;
    Tanh: gd_tanh_f64, gd_tanh_f32;
    Sigmoid: gd_sigmoid_f64, gd_sigmoid_f32;
    Softplus: gd_softplus_f64, gd_softplus_f32;
    Gelu: gd_gelu_f64, gd_gelu_f32;
    Erf: gd_erf_f64, gd_erf_f32;
}

extern "C" fn gd_pow_f64(a: f64, b: f64) -> f64 {
    scalar::binary_f64(BinaryOp::Pow, a, b)
}
extern "C" fn gd_pow_f32(a: f32, b: f32) -> f32 {
    scalar::binary_f32(BinaryOp::Pow, a, b)
}
extern "C" fn gd_rem_f64(a: f64, b: f64) -> f64 {
    scalar::binary_f64(BinaryOp::Rem, a, b)
}
extern "C" fn gd_rem_f32(a: f32, b: f32) -> f32 {
    scalar::binary_f32(BinaryOp::Rem, a, b)
}

/// The shim computing a float binary op that needs one (`pow`, `rem`), by symbol name.
pub(super) fn binary(op: BinaryOp, dtype: DType) -> Option<&'static str> {
    match (op, dtype) {
        (BinaryOp::Pow, DType::F64) => Some("gd_pow_f64"),
        (BinaryOp::Pow, DType::F32) => Some("gd_pow_f32"),
        (BinaryOp::Rem, DType::F64) => Some("gd_rem_f64"),
        (BinaryOp::Rem, DType::F32) => Some("gd_rem_f32"),
        _ => None,
    }
}
