//! Tensors to and from safetensors files: the `save` and `load` statements (LANGUAGE.md §4).
//!
//! Safetensors (<https://github.com/huggingface/safetensors>) is the format PyTorch, JAX and
//! NumPy users already read: an 8-byte little-endian header length, a JSON header giving each
//! tensor's dtype, shape and byte range, then the raw little-endian, row-major data. It holds
//! no code, so loading a file from elsewhere is safe, and its header can be checked before any
//! data is touched. The `safetensors` crate does the format; this module maps our four dtypes
//! onto it (f64 → `F64`, f32 → `F32`, i64 → `I64`, bool → `BOOL`, one byte 0 or 1) and turns
//! every failure into a [`SaveError`] or [`LoadError`] with a plain message, never a panic.
//!
//! Files are written through [`write_atomically`], so a failed `save` leaves any previous
//! file intact.

use crate::atomic::write_atomically;
use crate::tensor::{checked_len, Buffer, DType, Tensor};
use safetensors::tensor::TensorInfo;
use safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The key safetensors reserves in its header for the free-form string metadata.
const METADATA_KEY: &str = "__metadata__";

/// Named tensors, as [`load`] returns them.
pub type NamedTensors = Vec<(String, Tensor)>;

/// A failed [`save`]: the file it was writing and why, in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot save `{}`: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for SaveError {}

/// A failed [`load`]: the file it was reading and why, in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot load `{}`: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for LoadError {}

/// Writes `tensors` (each under its name, with its dtype and shape) and the optional
/// string `metadata` to a safetensors file at `path`, replacing any file there atomically.
///
/// Names must be distinct and must not be `__metadata__` (the format reserves it). The
/// order of `tensors` does not matter: the format stores them sorted (by dtype, then name).
/// The whole file is built in memory before it is written, which is what the `safetensors`
/// crate offers; each tensor's bytes are made only while they are copied in.
pub fn save(
    path: &Path,
    tensors: &[(&str, &Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<(), SaveError> {
    let err = |message: String| SaveError { path: path.to_path_buf(), message };

    let mut seen = HashSet::new();
    for &(name, _) in tensors {
        if name == METADATA_KEY {
            return Err(err(format!(
                "`{METADATA_KEY}` is reserved by the format; rename the tensor"
            )));
        }
        if !seen.insert(name) {
            return Err(err(format!("two tensors are named `{name}`")));
        }
    }

    let views = tensors.iter().map(|&(name, t)| (name, TensorView(t)));
    let bytes = safetensors::serialize(views, metadata).map_err(|e| err(e.to_string()))?;

    write_atomically(path, |f| f.write_all(&bytes)).map_err(|e| err(describe_write_error(path, &e)))
}

fn describe_write_error(path: &Path, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(dir) => format!("the directory `{}` does not exist", dir.display()),
            None => "the working directory no longer exists".to_string(),
        },
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        io::ErrorKind::StorageFull => "the disk is full".to_string(),
        _ => e.to_string(),
    }
}

/// A [`Tensor`] as the `safetensors` crate wants to see it. The bytes are made on demand
/// (in `data`), so only one tensor's copy exists at a time while the file is built.
struct TensorView<'a>(&'a Tensor);

impl View for TensorView<'_> {
    fn dtype(&self) -> Dtype {
        match self.0.dtype() {
            DType::F64 => Dtype::F64,
            DType::F32 => Dtype::F32,
            DType::I64 => Dtype::I64,
            DType::Bool => Dtype::BOOL,
        }
    }

    fn shape(&self) -> &[usize] {
        self.0.shape()
    }

    fn data(&self) -> Cow<'_, [u8]> {
        let mut out = Vec::with_capacity(self.data_len());
        match self.0.data() {
            Buffer::F64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Buffer::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Buffer::I64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Buffer::Bool(v) => out.extend(v.iter().map(|&b| b as u8)),
        }
        Cow::Owned(out)
    }

    fn data_len(&self) -> usize {
        self.0.len() * self.0.dtype().size()
    }
}

/// Reads every tensor of a safetensors file, **sorted by name** (byte order of the UTF-8
/// names). Sorted rather than in file order because the file order is the writer's choice
/// (ours sorts by dtype first) and callers want an order that does not depend on who wrote it.
pub fn load(path: &Path) -> Result<NamedTensors, LoadError> {
    load_with_metadata(path).map(|(tensors, _)| tensors)
}

/// [`load`], plus the file's free-form string metadata (empty when it has none).
pub fn load_with_metadata(
    path: &Path,
) -> Result<(NamedTensors, HashMap<String, String>), LoadError> {
    let err = |message: String| LoadError { path: path.to_path_buf(), message };
    let bytes = read_file(path).map_err(err)?;

    let (header_len, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| err(describe_format_error(&e, &bytes)))?;
    // `read_metadata` checked that the data section is exactly what the header describes.
    let data = &bytes[8 + header_len..];

    let mut infos: Vec<(String, &TensorInfo)> = header.tensors().into_iter().collect();
    infos.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tensors = Vec::with_capacity(infos.len());
    for (name, info) in infos {
        let (start, end) = info.data_offsets;
        let t =
            tensor_from_bytes(&name, info.dtype, &info.shape, &data[start..end]).map_err(err)?;
        tensors.push((name, t));
    }
    Ok((tensors, header.metadata().clone().unwrap_or_default()))
}

/// The whole file, with a fallible allocation so that a huge file is an error, not an abort.
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let describe = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::IsADirectory => "it is a directory, not a file".to_string(),
        _ => e.to_string(),
    };
    let mut file = File::open(path).map_err(describe)?;
    let len = file.metadata().map_err(describe)?.len();
    let mut bytes = Vec::new();
    usize::try_from(len)
        .ok()
        .and_then(|n| bytes.try_reserve_exact(n).ok())
        .ok_or_else(|| format!("the file ({len} bytes) does not fit in memory"))?;
    file.read_to_end(&mut bytes).map_err(describe)?;
    Ok(bytes)
}

/// A plain-words reason for a file the `safetensors` crate rejects.
fn describe_format_error(e: &SafeTensorError, bytes: &[u8]) -> String {
    const NOT: &str = "not a safetensors file, or a truncated one";
    match e {
        SafeTensorError::HeaderTooSmall => {
            format!("{NOT}: it has {} bytes, fewer than the 8 of the header length", bytes.len())
        }
        SafeTensorError::HeaderTooLarge | SafeTensorError::InvalidHeaderLength => {
            let n =
                u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes checked by the crate"));
            format!(
                "{NOT}: its first 8 bytes give a header of {n} bytes, but the file has {}",
                bytes.len()
            )
        }
        SafeTensorError::InvalidHeader(_) => format!("{NOT}: the header is not UTF-8 text"),
        SafeTensorError::InvalidHeaderDeserialization(e) => {
            format!("{NOT}: the header is not valid safetensors JSON ({e})")
        }
        SafeTensorError::MetadataIncompleteBuffer => format!(
            "{NOT}: the data section ({} bytes) does not match the sizes in the header",
            bytes.len()
        ),
        other => format!("invalid safetensors file: {other}"),
    }
}

/// One tensor from its little-endian bytes. The crate has already checked that the byte
/// count matches the dtype and shape; this checks the dtype is one of ours, the size is
/// within the memory limit, and every `BOOL` byte is 0 or 1.
fn tensor_from_bytes(
    name: &str,
    dtype: Dtype,
    shape: &[usize],
    bytes: &[u8],
) -> Result<Tensor, String> {
    let ours = match dtype {
        Dtype::F64 => DType::F64,
        Dtype::F32 => DType::F32,
        Dtype::I64 => DType::I64,
        Dtype::BOOL => DType::Bool,
        other => {
            return Err(format!(
                "tensor `{name}` has dtype {other}, which gd does not support \
                 (it reads F64, F32, I64 and BOOL)"
            ))
        }
    };
    let n = checked_len(ours, shape).map_err(|e| format!("tensor `{name}`: {e}"))?;
    let too_big = |_| format!("tensor `{name}` ({ours}{shape:?}) does not fit in memory");
    let data = match ours {
        DType::F64 => Buffer::F64(decode(n, bytes, f64::from_le_bytes).map_err(too_big)?),
        DType::F32 => Buffer::F32(decode(n, bytes, f32::from_le_bytes).map_err(too_big)?),
        DType::I64 => Buffer::I64(decode(n, bytes, i64::from_le_bytes).map_err(too_big)?),
        DType::Bool => {
            if let Some(i) = bytes.iter().position(|&b| b > 1) {
                return Err(format!(
                    "tensor `{name}` is BOOL but element {i} is the byte {}; only 0 and 1 are booleans",
                    bytes[i]
                ));
            }
            let mut v = Vec::new();
            v.try_reserve_exact(n).map_err(too_big)?;
            v.extend(bytes.iter().map(|&b| b == 1));
            Buffer::Bool(v)
        }
    };
    Ok(Tensor::new(shape.to_vec(), data).expect("the crate checked bytes = elements × size"))
}

/// `n` elements of `N` bytes each. The data section need not be aligned for `T`, so each
/// element is copied out of its bytes rather than cast in place.
fn decode<T, const N: usize>(
    n: usize,
    bytes: &[u8],
    from_le: fn([u8; N]) -> T,
) -> Result<Vec<T>, std::collections::TryReserveError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)?;
    v.extend(bytes.chunks_exact(N).map(|c| from_le(c.try_into().expect("chunks of N bytes"))));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(&'static str, Tensor)> {
        vec![
            (
                "w",
                Tensor::new(
                    vec![2, 3],
                    Buffer::F64(vec![1.0, -2.5, 3.25, f64::MAX, f64::MIN_POSITIVE, -0.0]),
                )
                .unwrap(),
            ),
            ("b", Tensor::new(vec![3], Buffer::F32(vec![0.5, f32::INFINITY, -1e-30])).unwrap()),
            ("step", Tensor::scalar_i64(-1234567890123)),
            ("idx", Tensor::new(vec![4], Buffer::I64(vec![0, 1, i64::MIN, i64::MAX])).unwrap()),
            (
                "mask",
                Tensor::new(vec![2, 2], Buffer::Bool(vec![true, false, false, true])).unwrap(),
            ),
            ("flag", Tensor::scalar_bool(true)),
            ("lr", Tensor::scalar_f32(0.001)),
            ("loss", Tensor::scalar_f64(f64::NAN)),
            ("none", Tensor::new(vec![0, 5], Buffer::F64(vec![])).unwrap()),
            ("nothing", Tensor::new(vec![3, 0], Buffer::Bool(vec![])).unwrap()),
        ]
    }

    fn refs<'a>(ts: &'a [(&'static str, Tensor)]) -> Vec<(&'a str, &'a Tensor)> {
        ts.iter().map(|(n, t)| (*n, t)).collect()
    }

    /// Equality that treats NaN as equal to itself, bit for bit.
    fn same(a: &Tensor, b: &Tensor) -> bool {
        a.shape() == b.shape()
            && match (a.data(), b.data()) {
                (Buffer::F64(x), Buffer::F64(y)) => {
                    x.iter().map(|v| v.to_bits()).eq(y.iter().map(|v| v.to_bits()))
                }
                (Buffer::F32(x), Buffer::F32(y)) => {
                    x.iter().map(|v| v.to_bits()).eq(y.iter().map(|v| v.to_bits()))
                }
                (x, y) => x == y,
            }
    }

    #[test]
    fn round_trip_every_dtype_scalars_and_empty_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let ts = sample();
        save(&path, &refs(&ts), None).unwrap();

        let (back, meta) = load_with_metadata(&path).unwrap();
        assert!(meta.is_empty());
        let mut want: Vec<_> = ts.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(back.len(), want.len());
        for ((bn, bt), (wn, wt)) in back.iter().zip(&want) {
            assert_eq!(bn, wn);
            assert_eq!(bt.dtype(), wt.dtype(), "{bn}");
            assert!(same(bt, wt), "{bn}: {bt:?} != {wt:?}");
        }
        assert_eq!(load(&path).unwrap().len(), want.len());
    }

    #[test]
    fn metadata_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let meta = HashMap::from([
            ("format".to_string(), "gradc".to_string()),
            ("step".to_string(), "12".to_string()),
        ]);
        let t = Tensor::scalar_f64(1.0);
        save(&path, &[("x", &t)], Some(meta.clone())).unwrap();
        assert_eq!(load_with_metadata(&path).unwrap().1, meta);
    }

    #[test]
    fn the_file_reads_back_with_the_safetensors_crate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let ts = sample();
        save(&path, &refs(&ts), None).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();

        let mut names = st.names();
        names.sort();
        let mut want_names: Vec<&str> = ts.iter().map(|(n, _)| *n).collect();
        want_names.sort();
        assert_eq!(names, want_names);

        let check = |name: &str, dtype: Dtype, shape: &[usize], data: Vec<u8>| {
            let v = st.tensor(name).unwrap();
            assert_eq!(v.dtype(), dtype, "{name}");
            assert_eq!(v.shape(), shape, "{name}");
            assert_eq!(v.data(), &data[..], "{name}");
        };
        let le64 = |xs: &[f64]| xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        check(
            "w",
            Dtype::F64,
            &[2, 3],
            le64(&[1.0, -2.5, 3.25, f64::MAX, f64::MIN_POSITIVE, -0.0]),
        );
        check(
            "b",
            Dtype::F32,
            &[3],
            [0.5f32, f32::INFINITY, -1e-30].iter().flat_map(|x| x.to_le_bytes()).collect(),
        );
        check("step", Dtype::I64, &[], (-1234567890123i64).to_le_bytes().to_vec());
        check(
            "idx",
            Dtype::I64,
            &[4],
            [0, 1, i64::MIN, i64::MAX].iter().flat_map(|x| x.to_le_bytes()).collect(),
        );
        check("mask", Dtype::BOOL, &[2, 2], vec![1, 0, 0, 1]);
        check("flag", Dtype::BOOL, &[], vec![1]);
        check("lr", Dtype::F32, &[], 0.001f32.to_le_bytes().to_vec());
        check("loss", Dtype::F64, &[], f64::NAN.to_le_bytes().to_vec());
        check("none", Dtype::F64, &[0, 5], vec![]);
        check("nothing", Dtype::BOOL, &[3, 0], vec![]);
    }

    #[test]
    fn reads_a_file_written_by_the_crate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let raw: Vec<u8> = [1.5f64, 2.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let view = safetensors::tensor::TensorView::new(Dtype::F64, vec![2, 1], &raw).unwrap();
        std::fs::write(&path, safetensors::serialize([("a", view)], None).unwrap()).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(
            back,
            [("a".to_string(), Tensor::new(vec![2, 1], Buffer::F64(vec![1.5, 2.5])).unwrap())]
        );
    }

    fn load_err(bytes: &[u8]) -> LoadError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        std::fs::write(&path, bytes).unwrap();
        let e = load(&path).unwrap_err();
        assert_eq!(e.path, path);
        assert!(e.to_string().starts_with(&format!("cannot load `{}`: ", path.display())), "{e}");
        e
    }

    #[test]
    fn every_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let ts = sample();
        save(&path, &refs(&ts), None).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            let e = load_err(&bytes[..cut]);
            assert!(
                e.message.contains("not a safetensors file, or a truncated one"),
                "cut {cut}: {e}"
            );
        }
        // One byte too many is as wrong as one too few.
        let mut longer = bytes.clone();
        longer.push(0);
        load_err(&longer);
    }

    #[test]
    fn garbage_is_an_error() {
        let e = load_err(b"col1,col2\n1,2\n3,4\n");
        assert!(e.message.contains("not a safetensors file"), "{e}");
        let e = load_err(&[0xff; 64]);
        assert!(e.message.contains("not a safetensors file"), "{e}");
        let mut json_ish = 10u64.to_le_bytes().to_vec();
        json_ish.extend(b"[1, 2, 3] ");
        let e = load_err(&json_ish);
        assert!(e.message.contains("header is not valid safetensors JSON"), "{e}");
        let mut not_utf8 = 4u64.to_le_bytes().to_vec();
        not_utf8.extend([0xff, 0xfe, 0xfd, 0xfc]);
        let e = load_err(&not_utf8);
        assert!(e.message.contains("not UTF-8"), "{e}");
    }

    fn file_with(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn an_unsupported_dtype_is_named() {
        let bytes = file_with(r#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, &[0; 4]);
        let e = load_err(&bytes);
        assert_eq!(
            e.message,
            "tensor `h` has dtype F16, which gd does not support (it reads F64, F32, I64 and BOOL)"
        );
    }

    #[test]
    fn a_bool_byte_other_than_0_or_1_is_an_error() {
        let bytes =
            file_with(r#"{"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}"#, &[0, 1, 7]);
        let e = load_err(&bytes);
        assert_eq!(
            e.message,
            "tensor `m` is BOOL but element 2 is the byte 7; only 0 and 1 are booleans"
        );
    }

    #[test]
    fn a_header_that_disagrees_with_its_data_is_an_error() {
        // 3 f32s need 12 bytes, not 8.
        let bytes = file_with(r#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, &[0; 8]);
        load_err(&bytes);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(&dir.path().join("nope.safetensors")).unwrap_err();
        assert_eq!(e.message, "no such file");
        let e = load(dir.path()).unwrap_err();
        assert_eq!(e.message, "it is a directory, not a file");
    }

    #[test]
    fn saving_into_a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/p.safetensors");
        let t = Tensor::scalar_f64(1.0);
        let e = save(&path, &[("x", &t)], None).unwrap_err();
        assert_eq!(e.path, path);
        assert_eq!(
            e.message,
            format!("the directory `{}` does not exist", dir.path().join("missing").display())
        );
        assert!(!dir.path().join("missing").exists());
    }

    #[test]
    fn duplicate_and_reserved_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let t = Tensor::scalar_f64(1.0);
        let e = save(&path, &[("x", &t), ("y", &t), ("x", &t)], None).unwrap_err();
        assert_eq!(e.message, "two tensors are named `x`");
        let e = save(&path, &[("__metadata__", &t)], None).unwrap_err();
        assert!(e.message.contains("reserved"), "{e}");
        assert!(!path.exists());
    }

    #[test]
    fn saving_over_a_file_replaces_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let big = Tensor::new(vec![1000], Buffer::F64(vec![7.0; 1000])).unwrap();
        save(&path, &[("big", &big)], None).unwrap();
        let small = Tensor::scalar_i64(3);
        save(&path, &[("small", &small)], None).unwrap();
        assert_eq!(load(&path).unwrap(), [("small".to_string(), small)]);
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["p.safetensors"]);
    }

    #[test]
    fn a_failed_save_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        let t = Tensor::scalar_f64(2.0);
        save(&path, &[("x", &t)], None).unwrap();
        save(&path, &[("x", &t), ("x", &t)], None).unwrap_err();
        assert_eq!(load(&path).unwrap(), [("x".to_string(), t)]);
    }
}
