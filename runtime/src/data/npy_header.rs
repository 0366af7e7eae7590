//! The header of a NumPy `.npy` file (format versions 1.0, 2.0 and 3.0):
//!
//! ```text
//! "\x93NUMPY" major minor  header_len (u16 LE in 1.0, u32 LE in 2.0/3.0)  header  data…
//! header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }" + spaces + "\n"
//! ```
//!
//! The header is a Python dict literal. It is parsed by hand, not with `npyz`: the grammar
//! is tiny (strings, ints, booleans, tuples, lists), and parsing it here lets every failure
//! become the precise `DataError` kind the checker reports (bad magic vs. unsupported dtype
//! vs. truncated) and lets the checker read the shape without reading the data.

use super::pylit::{Parser, Value};
use super::{DataError, DataErrorKind as Kind};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The `gd` element type an array loads as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    F64,
    F32,
    I64,
    Bool,
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dtype::F64 => "f64",
            Dtype::F32 => "f32",
            Dtype::I64 => "i64",
            Dtype::Bool => "bool",
        })
    }
}

impl Dtype {
    /// Bytes per element in memory.
    pub fn size(self) -> u64 {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 => 4,
            Dtype::Bool => 1,
        }
    }
}

/// How elements are stored in the file: little-endian (or single-byte) only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    F64,
    F32,
    /// An integer of `size` bytes, widened to i64.
    Int {
        size: u8,
        signed: bool,
    },
    Bool,
}

impl Stored {
    pub(crate) fn size(self) -> u64 {
        match self {
            Stored::F64 => 8,
            Stored::F32 => 4,
            Stored::Int { size, .. } => u64::from(size),
            Stored::Bool => 1,
        }
    }
}

/// What a `.npy` header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version, e.g. (1, 0).
    pub version: (u8, u8),
    /// The dtype as written in the file, e.g. `<i4`.
    pub descr: String,
    /// What the values load as (`<i4` loads as `I64`).
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// The file stores the array in column-major order; it is loaded row-major regardless.
    pub fortran_order: bool,
    /// Where the data starts in the file.
    pub data_offset: u64,
    pub(crate) stored: Stored,
}

const MAGIC: &[u8] = b"\x93NUMPY";
/// Headers are a few dozen bytes; this bounds what a corrupt length field can make us read.
const MAX_HEADER_LEN: usize = 1 << 20;

/// Reads and parses the header from the start of `file`, leaving it at the data.
pub(crate) fn read_header(path: &Path, file: &mut impl Read) -> Result<NpyHeader, DataError> {
    let bad = |message: String| DataError::new(Kind::BadHeader, path, message);
    let mut prefix = [0u8; 8];
    let got = read_up_to(file, &mut prefix).map_err(|e| DataError::io(path, &e))?;
    if got < MAGIC.len() || !prefix.starts_with(MAGIC) {
        return Err(bad(
            "is not a NumPy .npy file: it does not start with the \\x93NUMPY magic".into(),
        )
        .with_hint("write it with numpy.save"));
    }
    if got < 8 {
        return Err(truncated(path, "the header"));
    }
    let version = (prefix[6], prefix[7]);
    let len_size = match version.0 {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(bad(format!(
                "has .npy format version {}.{}; gradc reads 1.0, 2.0 and 3.0",
                version.0, version.1
            )))
        }
    };
    let mut len_bytes = [0u8; 4];
    if read_up_to(file, &mut len_bytes[..len_size]).map_err(|e| DataError::io(path, &e))? < len_size
    {
        return Err(truncated(path, "the header"));
    }
    let header_len = u32::from_le_bytes(len_bytes) as usize;
    if header_len > MAX_HEADER_LEN {
        return Err(bad(format!(
            "claims a header of {header_len} bytes, which no .npy writer produces"
        )));
    }
    let mut text = vec![0u8; header_len];
    if read_up_to(file, &mut text).map_err(|e| DataError::io(path, &e))? < header_len {
        return Err(truncated(path, "the header"));
    }
    let data_offset = (MAGIC.len() + 2 + len_size + header_len) as u64;
    let dict = Parser::new(&text)
        .dict()
        .map_err(|m| bad(format!("has a malformed header: {m}")))?;
    let field = |key: &str| {
        dict.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| bad(format!("has a malformed header: no {key:?} key")))
    };
    let descr = match field("descr")? {
        Value::Str(s) => s.clone(),
        _ => {
            return Err(DataError::new(
                Kind::UnsupportedDtype,
                path,
                "holds a structured array (fields), which gradc does not read",
            )
            .with_hint("save each field as its own array"))
        }
    };
    let fortran_order = match field("fortran_order")? {
        Value::Bool(b) => *b,
        _ => {
            return Err(bad(
                "has a malformed header: 'fortran_order' is not True or False".into(),
            ))
        }
    };
    let shape = match field("shape")? {
        Value::Seq(dims) => dims
            .iter()
            .map(|d| match d {
                Value::Int(n) => usize::try_from(*n).ok(),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| bad("has a malformed header: 'shape' is not a tuple of sizes".into()))?,
        _ => return Err(bad("has a malformed header: 'shape' is not a tuple".into())),
    };
    let (stored, dtype) = parse_descr(path, &descr)?;
    Ok(NpyHeader {
        version,
        descr,
        dtype,
        shape,
        fortran_order,
        data_offset,
        stored,
    })
}

pub(crate) fn truncated(path: &Path, what: &str) -> DataError {
    DataError::new(
        Kind::Truncated,
        path,
        format!("is truncated: it ends inside {what}"),
    )
    .with_hint("the file was probably cut short while being written or copied; write it again")
}

/// Like `read_exact`, but says how much it got instead of failing at the end of the file.
fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// `<f8` → f64, `<f4` → f32, `<i8 <i4 <i2 |i1 <u4 <u2 |u1` → i64, `|b1` → bool.
fn parse_descr(path: &Path, descr: &str) -> Result<(Stored, Dtype), DataError> {
    let unsupported = |why: String| {
        DataError::new(Kind::UnsupportedDtype, path, why)
            .with_hint("convert it in NumPy, e.g. numpy.save(path, a.astype('<f8')); gradc reads <f8, <f4, <i8, <i4, <i2, <u4, <u2, |i1, |u1, |b1")
    };
    let (order, code) = descr.split_at(
        descr
            .chars()
            .next()
            .filter(|c| "<>|=".contains(*c))
            .map_or(0, |_| 1),
    );
    let stored = match code {
        "f8" => Stored::F64,
        "f4" => Stored::F32,
        "b1" => Stored::Bool,
        "i8" | "i4" | "i2" | "i1" | "u4" | "u2" | "u1" => Stored::Int {
            size: code[1..].parse().unwrap_or(8),
            signed: code.starts_with('i'),
        },
        "u8" => {
            return Err(unsupported(format!(
                "has dtype {descr:?} (u64), whose values may not fit gd's i64"
            )))
        }
        _ => {
            return Err(unsupported(format!(
                "has dtype {descr:?}, which gradc does not read"
            )))
        }
    };
    if stored.size() > 1 && order != "<" {
        let why = if order == ">" {
            "big-endian"
        } else {
            "of unstated byte order"
        };
        return Err(unsupported(format!(
            "has dtype {descr:?}, which is {why}; gradc reads little-endian data"
        )));
    }
    let dtype = match stored {
        Stored::F64 => Dtype::F64,
        Stored::F32 => Dtype::F32,
        Stored::Int { .. } => Dtype::I64,
        Stored::Bool => Dtype::Bool,
    };
    Ok((stored, dtype))
}
