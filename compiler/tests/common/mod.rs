//! Shared helpers of the integration tests in `compiler/tests`: `mod common;` in a test file
//! brings them in. Each test file compiles its own copy and uses only part of it.
#![allow(dead_code)]

pub mod gen;

use gradc_runtime::tensor::{Buffer, DType, Tensor};

/// A tensor as its dtype, shape and every element's bits, NaNs made one (payloads are not
/// compared): what "bit for bit" means in the differential tests.
pub fn bits(t: &Tensor) -> (DType, Vec<usize>, Vec<u64>) {
    let bits: Vec<u64> = match t.data() {
        Buffer::F64(v) => v.iter().map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() }).collect(),
        Buffer::F32(v) => v.iter().map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() as u64 }).collect(),
        Buffer::I64(v) => v.iter().map(|&x| x as u64).collect(),
        Buffer::Bool(v) => v.iter().map(|&x| x as u64).collect(),
    };
    (t.dtype(), t.shape().to_vec(), bits)
}
