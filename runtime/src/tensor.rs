//! Tensors: a dense row-major buffer of one element type and a concrete shape.
//!
//! Every allocation goes through [`Tensor::try_filled`]-style constructors that reserve
//! fallibly, so a shape too large for the machine is an [`AllocError`], never an abort.

use std::fmt;

/// An element type of a runtime value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F64,
    F32,
    I64,
    Bool,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::F32 => "f32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }

    /// Bytes per element (a `bool` takes one byte).
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 => 4,
            DType::Bool => 1,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F64 | DType::F32)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The elements of a tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum Buffer {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::F64(_) => DType::F64,
            Buffer::F32(_) => DType::F32,
            Buffer::I64(_) => DType::I64,
            Buffer::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Buffer::F64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as an `f64` (exact for f32, i64 up to 2^53, bool as 0/1).
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            Buffer::F64(v) => v[i],
            Buffer::F32(v) => v[i] as f64,
            Buffer::I64(v) => v[i] as f64,
            Buffer::Bool(v) => v[i] as u8 as f64,
        }
    }
}

/// A memory request the machine cannot meet: the size overflows, or the allocator refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocError {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self
            .shape
            .iter()
            .try_fold(self.dtype.size() as u128, |acc, &d| acc.checked_mul(d as u128));
        match bytes {
            Some(b) => write!(
                f,
                "a {}{:?} tensor needs {} bytes, more than the limit of {} bytes (half this machine's memory)",
                self.dtype,
                self.shape,
                b,
                crate::data::default_max_bytes()
            ),
            None => write!(f, "a {}{:?} tensor is too large to address", self.dtype, self.shape),
        }
    }
}

impl std::error::Error for AllocError {}

/// Number of elements of a shape, if one tensor of it may be allocated: at most
/// [`default_max_bytes`](crate::data::default_max_bytes) (half the machine's memory). The
/// limit matters because Linux overcommits: a too-large allocation often "succeeds" and the
/// process is killed later, when the pages are touched.
pub fn checked_len(dtype: DType, shape: &[usize]) -> Result<usize, AllocError> {
    let err = || AllocError { dtype, shape: shape.to_vec() };
    let n = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(err)?;
    let bytes = n.checked_mul(dtype.size()).ok_or_else(err)?;
    if bytes as u64 > crate::data::default_max_bytes() {
        return Err(err());
    }
    Ok(n)
}

/// A vector of `n` copies of `value`, or an error instead of an allocation abort.
pub fn try_vec<T: Clone>(n: usize, value: T) -> Result<Vec<T>, std::collections::TryReserveError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)?;
    v.resize(n, value);
    Ok(v)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Buffer,
}

impl Tensor {
    /// A tensor from its shape and data; `None` if the lengths disagree.
    pub fn new(shape: Vec<usize>, data: Buffer) -> Option<Tensor> {
        let n: usize = shape.iter().product();
        (n == data.len()).then_some(Tensor { shape, data })
    }

    pub fn scalar_f64(v: f64) -> Tensor {
        Tensor { shape: vec![], data: Buffer::F64(vec![v]) }
    }

    pub fn scalar_f32(v: f32) -> Tensor {
        Tensor { shape: vec![], data: Buffer::F32(vec![v]) }
    }

    pub fn scalar_i64(v: i64) -> Tensor {
        Tensor { shape: vec![], data: Buffer::I64(vec![v]) }
    }

    pub fn scalar_bool(v: bool) -> Tensor {
        Tensor { shape: vec![], data: Buffer::Bool(vec![v]) }
    }

    /// Every element `value` (converted to `dtype`: a float truncates toward zero for
    /// `i64`, is `!= 0` for `bool`).
    pub fn try_filled(dtype: DType, shape: &[usize], value: f64) -> Result<Tensor, AllocError> {
        let n = checked_len(dtype, shape)?;
        let err = |_| AllocError { dtype, shape: shape.to_vec() };
        let data = match dtype {
            DType::F64 => Buffer::F64(try_vec(n, value).map_err(err)?),
            DType::F32 => Buffer::F32(try_vec(n, value as f32).map_err(err)?),
            DType::I64 => Buffer::I64(try_vec(n, value as i64).map_err(err)?),
            DType::Bool => Buffer::Bool(try_vec(n, value != 0.0).map_err(err)?),
        };
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    /// A tensor of `dtype` from `f64` values (rounded to f32, truncated to i64, `!= 0` for bool).
    pub fn from_f64s(dtype: DType, shape: Vec<usize>, values: &[f64]) -> Option<Tensor> {
        let data = match dtype {
            DType::F64 => Buffer::F64(values.to_vec()),
            DType::F32 => Buffer::F32(values.iter().map(|&v| v as f32).collect()),
            DType::I64 => Buffer::I64(values.iter().map(|&v| v as i64).collect()),
            DType::Bool => Buffer::Bool(values.iter().map(|&v| v != 0.0).collect()),
        };
        Tensor::new(shape, data)
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    pub fn data(&self) -> &Buffer {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut Buffer {
        &mut self.data
    }

    pub fn into_data(self) -> Buffer {
        self.data
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The same elements under another shape of the same length.
    pub fn reshaped(mut self, shape: Vec<usize>) -> Option<Tensor> {
        (shape.iter().product::<usize>() == self.data.len()).then(|| {
            self.shape = shape;
            self
        })
    }

    /// The only element of a one-element tensor, as `f64`.
    pub fn scalar_value(&self) -> Option<f64> {
        (self.len() == 1).then(|| self.data.get_f64(0))
    }

    pub fn as_f64(&self) -> Option<&[f64]> {
        match &self.data {
            Buffer::F64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            Buffer::F32(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            Buffer::I64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<&[bool]> {
        match &self.data {
            Buffer::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// Every element as `f64` (see [`Buffer::get_f64`]).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.data.get_f64(i)).collect()
    }
}

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_shape_is_an_error_not_an_abort() {
        let err = Tensor::try_filled(DType::F64, &[1 << 40, 1 << 20], 0.0).unwrap_err();
        assert!(err.to_string().contains("half this machine"), "{err}");
        let err = Tensor::try_filled(DType::F64, &[usize::MAX, 2], 0.0).unwrap_err();
        assert!(err.to_string().contains("more than the limit"), "{err}");
        let err = Tensor::try_filled(DType::F64, &[usize::MAX, usize::MAX, usize::MAX, 4], 0.0).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(strides(&[]), Vec::<usize>::new());
        assert_eq!(strides(&[5]), vec![1]);
    }

    #[test]
    fn constructors_check_lengths() {
        assert!(Tensor::new(vec![2, 2], Buffer::F64(vec![1.0; 3])).is_none());
        let t = Tensor::from_f64s(DType::I64, vec![3], &[1.9, -1.9, 0.0]).unwrap();
        assert_eq!(t.as_i64().unwrap(), &[1, -1, 0]);
        assert_eq!(t.clone().reshaped(vec![3, 1]).unwrap().shape(), &[3, 1]);
        assert!(t.reshaped(vec![2]).is_none());
    }
}
