//! Values as `print` shows them (LANGUAGE.md §4): a number in the shortest form that reads
//! back to the same value, as Rust's `{:?}` writes it (`3.0`, `1e-7`, `NaN`, `inf`); a bool as
//! `true`/`false`; a tensor as nested `[a, b, …]`.

use crate::tensor::{Buffer, Tensor};
use std::fmt::Write;

/// Element `i` of a buffer.
pub fn element(data: &Buffer, i: usize) -> String {
    match data {
        Buffer::F64(v) => format!("{:?}", v[i]),
        Buffer::F32(v) => format!("{:?}", v[i]),
        Buffer::I64(v) => v[i].to_string(),
        Buffer::Bool(v) => v[i].to_string(),
    }
}

/// A whole tensor: a scalar as its element, otherwise nested brackets, row-major.
pub fn tensor(t: &Tensor) -> String {
    let mut out = String::new();
    nested(t, 0, 0, &mut out);
    out
}

fn nested(t: &Tensor, axis: usize, offset: usize, out: &mut String) {
    if axis == t.rank() {
        out.push_str(&element(t.data(), offset));
        return;
    }
    let inner: usize = t.shape()[axis + 1..].iter().product();
    out.push('[');
    for k in 0..t.shape()[axis] {
        if k > 0 {
            out.push_str(", ");
        }
        nested(t, axis + 1, offset + k * inner, out);
    }
    let _ = write!(out, "]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    #[test]
    fn numbers_print_in_their_shortest_round_trip_form() {
        let t = Tensor::new(vec![6], Buffer::F64(vec![3.0, 1e-7, f64::NAN, f64::INFINITY, -0.0, 0.1])).unwrap();
        assert_eq!(tensor(&t), "[3.0, 1e-7, NaN, inf, -0.0, 0.1]");
        assert_eq!(tensor(&Tensor::scalar_f32(0.1)), "0.1");
        assert_eq!(tensor(&Tensor::scalar_i64(-4)), "-4");
        assert_eq!(tensor(&Tensor::scalar_bool(true)), "true");
    }

    #[test]
    fn tensors_nest_row_major() {
        let t = Tensor::from_f64s(DType::I64, vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(tensor(&t), "[[1, 2, 3], [4, 5, 6]]");
        let empty = Tensor::from_f64s(DType::F64, vec![2, 0], &[]).unwrap();
        assert_eq!(tensor(&empty), "[[], []]");
    }
}
