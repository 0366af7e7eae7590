//! NumPy `.npy` data sets: `data d = npy("f.npy");` has the file's dtype and shape.
//!
//! Supported: little-endian `<f8` (f64), `<f4` (f32), `<i8 <i4 <i2 |i1 <u4 <u2 |u1`
//! (widened to i64) and `|b1` (bool); format versions 1.0–3.0. A Fortran-order file is
//! transposed into row-major order on load. The body must be exactly as long as the header
//! says: shorter is `Truncated`, longer is `BadHeader` (several arrays appended to one file
//! are not a data set). [`npy_header`] checks all of that without reading the data, so the
//! checker reports a bad file at compile time.

use super::npy_header::{read_header, truncated, Stored};
use super::{
    default_max_bytes, human_bytes, open, DataError, DataErrorKind as Kind, Dtype, NpyHeader,
};
use std::io::{BufReader, Read};
use std::path::Path;

/// A loaded array: its shape and its values in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub values: NpyValues,
}

/// The values of an array, typed as they load (`<i4` as `I64`, …).
#[derive(Clone, Debug, PartialEq)]
pub enum NpyValues {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl NpyValues {
    pub fn dtype(&self) -> Dtype {
        match self {
            NpyValues::F64(_) => Dtype::F64,
            NpyValues::F32(_) => Dtype::F32,
            NpyValues::I64(_) => Dtype::I64,
            NpyValues::Bool(_) => Dtype::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            NpyValues::F64(v) => v.len(),
            NpyValues::F32(v) => v.len(),
            NpyValues::I64(v) => v.len(),
            NpyValues::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads and checks the header: dtype, shape, size limit ([`default_max_bytes`]) and the
/// length of the body.
pub fn npy_header(path: &Path) -> Result<NpyHeader, DataError> {
    npy_header_with_limit(path, default_max_bytes())
}

/// [`npy_header`] with an explicit limit on the loaded array's size in bytes.
pub fn npy_header_with_limit(path: &Path, max_bytes: u64) -> Result<NpyHeader, DataError> {
    let mut file = open(path)?;
    let header = read_header(path, &mut file)?;
    let file_len = file.metadata().map_err(|e| DataError::io(path, &e))?.len();
    check_sizes(path, &header, file_len, max_bytes)?;
    Ok(header)
}

/// Loads the array (row-major), checking everything [`npy_header`] checks.
pub fn read_npy(path: &Path) -> Result<NpyArray, DataError> {
    read_npy_with_limit(path, default_max_bytes())
}

/// [`read_npy`] with an explicit limit on the array's size in bytes.
pub fn read_npy_with_limit(path: &Path, max_bytes: u64) -> Result<NpyArray, DataError> {
    let file = open(path)?;
    let file_len = file.metadata().map_err(|e| DataError::io(path, &e))?.len();
    let mut reader = BufReader::new(file);
    let header = read_header(path, &mut reader)?;
    let count = check_sizes(path, &header, file_len, max_bytes)?;
    let read_err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => truncated(path, "the data"), // shrank after the check
        _ => DataError::io(path, &e),
    };
    let values = match header.stored {
        Stored::F64 => NpyValues::F64(
            decode(&mut reader, count, |b: &[u8; 8]| f64::from_le_bytes(*b)).map_err(read_err)?,
        ),
        Stored::F32 => NpyValues::F32(
            decode(&mut reader, count, |b: &[u8; 4]| f32::from_le_bytes(*b)).map_err(read_err)?,
        ),
        Stored::Bool => {
            NpyValues::Bool(decode(&mut reader, count, |b: &[u8; 1]| b[0] != 0).map_err(read_err)?)
        }
        Stored::Int { size, signed } => NpyValues::I64(
            match (size, signed) {
                (8, _) => decode(&mut reader, count, |b| i64::from_le_bytes(*b)),
                (4, true) => decode(&mut reader, count, |b| i64::from(i32::from_le_bytes(*b))),
                (4, false) => decode(&mut reader, count, |b| i64::from(u32::from_le_bytes(*b))),
                (2, true) => decode(&mut reader, count, |b| i64::from(i16::from_le_bytes(*b))),
                (2, false) => decode(&mut reader, count, |b| i64::from(u16::from_le_bytes(*b))),
                (_, true) => decode(&mut reader, count, |b: &[u8; 1]| i64::from(b[0] as i8)),
                (_, false) => decode(&mut reader, count, |b: &[u8; 1]| i64::from(b[0])),
            }
            .map_err(read_err)?,
        ),
    };
    // Transposing holds both copies for a moment: Fortran-order files need twice the memory.
    let values = if header.fortran_order && header.shape.len() > 1 {
        match values {
            NpyValues::F64(v) => NpyValues::F64(fortran_to_c(&v, &header.shape)),
            NpyValues::F32(v) => NpyValues::F32(fortran_to_c(&v, &header.shape)),
            NpyValues::I64(v) => NpyValues::I64(fortran_to_c(&v, &header.shape)),
            NpyValues::Bool(v) => NpyValues::Bool(fortran_to_c(&v, &header.shape)),
        }
    } else {
        values
    };
    Ok(NpyArray {
        shape: header.shape,
        values,
    })
}

/// Checks the array's size against the limit and the body's length against the file's;
/// returns the element count. Sizes are computed with checked arithmetic: a shape from a
/// corrupt header must give an error, never an overflow or an allocation abort.
fn check_sizes(
    path: &Path,
    header: &NpyHeader,
    file_len: u64,
    max_bytes: u64,
) -> Result<usize, DataError> {
    let shape = format!("{:?}", header.shape);
    let too_large = |what: String| {
        DataError::new(
            Kind::TooLarge,
            path,
            format!(
                "holds {what} ({} of shape {shape}), more than the limit of {}",
                header.dtype,
                human_bytes(max_bytes)
            ),
        )
        .with_hint("use a smaller array, or split it into several files")
    };
    let count = header
        .shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64));
    let memory = count.and_then(|n| n.checked_mul(header.dtype.size()));
    let (Some(count), Some(memory)) = (count, memory) else {
        return Err(too_large("more elements than can be counted".into()));
    };
    if memory > max_bytes {
        return Err(too_large(human_bytes(memory)));
    }
    let body = count * header.stored.size(); // at most `memory`: no type is narrowed on load
    let present = file_len.saturating_sub(header.data_offset);
    if present < body {
        return Err(DataError::new(Kind::Truncated, path, format!("is truncated: its header describes {body} bytes of data ({} of shape {shape}), but only {present} follow it", header.descr))
            .with_hint("the file was probably cut short while being written or copied; write it again"));
    }
    if present > body {
        return Err(DataError::new(
            Kind::BadHeader,
            path,
            format!(
                "has {} bytes after the {body} bytes of data its header describes",
                present - body
            ),
        )
        .with_hint("a .npy data set holds one array, as numpy.save writes it"));
    }
    usize::try_from(count)
        .map_err(|_| too_large("more elements than this machine can address".into()))
}

/// Reads `count` elements of `N` bytes each, converting as it goes, so that memory holds the
/// result and one buffer, never the raw bytes of the whole file as well.
fn decode<T, const N: usize>(
    reader: &mut impl Read,
    count: usize,
    convert: impl Fn(&[u8; N]) -> T,
) -> std::io::Result<Vec<T>> {
    const CHUNK: usize = 1 << 16;
    let mut out = Vec::with_capacity(count);
    let mut buf = vec![0u8; CHUNK.min(count.max(1) * N).next_multiple_of(N)];
    while out.len() < count {
        let n = (count - out.len()).min(buf.len() / N);
        reader.read_exact(&mut buf[..n * N])?;
        out.extend(
            buf[..n * N]
                .chunks_exact(N)
                .map(|c| convert(c.try_into().unwrap())),
        );
    }
    Ok(out)
}

/// Reorders a column-major array into row-major: walks the row-major index (last axis
/// fastest) and tracks the column-major offset of the same element.
fn fortran_to_c<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    let mut strides = vec![1usize; shape.len()]; // column-major strides
    for k in 1..shape.len() {
        strides[k] = strides[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(data.len());
    let mut index = vec![0usize; shape.len()];
    let mut offset = 0usize;
    for _ in 0..data.len() {
        out.push(data[offset]);
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            offset += strides[k];
            if index[k] < shape[k] {
                break;
            }
            offset -= strides[k] * shape[k];
            index[k] = 0;
        }
    }
    out
}
