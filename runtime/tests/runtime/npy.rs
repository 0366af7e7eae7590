//! NPY: files written byte by byte here (header dict, padding, body), one per dtype and
//! header version, Fortran order, and one test per error kind.

use super::file;
use gradc_runtime::data::{
    npy_header, npy_header_with_limit, read_npy, read_npy_with_limit, DataError,
    DataErrorKind as Kind, Dtype, NpyValues,
};
use std::path::Path;

/// A .npy file as numpy.save writes it: magic, version, header length (u16 for 1.0, u32
/// after), the dict padded with spaces so that the data starts at a multiple of 64, '\n'.
fn npy(version: u8, descr: &str, fortran: bool, shape: &str, body: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    npy_raw(
        version,
        &format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}"),
        body,
    )
}

fn npy_raw(version: u8, dict: &str, body: &[u8]) -> Vec<u8> {
    let len_size = if version == 1 { 2 } else { 4 };
    let mut header = dict.to_string();
    while !(6 + 2 + len_size + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out.extend(body);
    out
}

fn le<T: Copy, const N: usize>(values: &[T], bytes: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| bytes(v)).collect()
}

fn fails(path: &Path, kind: Kind) -> DataError {
    let err = read_npy(path).expect_err("read_npy should fail");
    assert_eq!(npy_header(path).expect_err("npy_header should fail"), err);
    assert_eq!(err.kind, kind, "{err}");
    assert_eq!((err.path.as_path(), err.line), (path, None));
    err
}

#[test]
fn f64_v1() {
    let values = [1.0, -2.5, 3.25, f64::NAN.copysign(1.0), 0.0, 1e300];
    let (_d, path) = file(
        "a.npy",
        npy(1, "<f8", false, "(2, 3)", &le(&values, f64::to_le_bytes)),
    );
    let h = npy_header(&path).unwrap();
    assert_eq!(
        (
            h.version,
            h.descr.as_str(),
            h.dtype,
            h.shape.as_slice(),
            h.fortran_order
        ),
        ((1, 0), "<f8", Dtype::F64, &[2, 3][..], false)
    );
    assert_eq!(h.data_offset, 128); // the dict needs more than 64 - 10 bytes
    let a = read_npy(&path).unwrap();
    assert_eq!(a.shape, [2, 3]);
    let NpyValues::F64(got) = a.values else {
        panic!("{:?}", a.values)
    };
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        values.map(f64::to_bits)
    );
}

#[test]
fn f32_v2() {
    let (_d, path) = file(
        "a.npy",
        npy(
            2,
            "<f4",
            false,
            "(3,)",
            &le(&[1.5f32, -0.25, 7.0], f32::to_le_bytes),
        ),
    );
    assert_eq!(npy_header(&path).unwrap().version, (2, 0));
    assert_eq!(
        read_npy(&path).unwrap().values,
        NpyValues::F32(vec![1.5, -0.25, 7.0])
    );
}

#[test]
fn i64_v3() {
    let (_d, path) = file(
        "a.npy",
        npy(
            3,
            "<i8",
            false,
            "(2,)",
            &le(&[i64::MIN, 42], i64::to_le_bytes),
        ),
    );
    assert_eq!(
        read_npy(&path).unwrap().values,
        NpyValues::I64(vec![i64::MIN, 42])
    );
}

#[test]
fn narrower_integers_widen_to_i64() {
    let cases: [(&str, Vec<u8>, Vec<i64>); 6] = [
        (
            "<i4",
            le(&[-7i32, i32::MAX], i32::to_le_bytes),
            vec![-7, i64::from(i32::MAX)],
        ),
        (
            "<u4",
            le(&[u32::MAX, 1], u32::to_le_bytes),
            vec![i64::from(u32::MAX), 1],
        ),
        ("<i2", le(&[-300i16, 5], i16::to_le_bytes), vec![-300, 5]),
        ("<u2", le(&[65535u16, 0], u16::to_le_bytes), vec![65535, 0]),
        ("|i1", vec![0x80, 0x7f], vec![-128, 127]),
        ("|u1", vec![0xff, 3], vec![255, 3]),
    ];
    for (descr, body, want) in cases {
        let (_d, path) = file("a.npy", npy(1, descr, false, "(2,)", &body));
        let h = npy_header(&path).unwrap();
        assert_eq!((h.dtype, h.descr.as_str()), (Dtype::I64, descr));
        assert_eq!(
            read_npy(&path).unwrap().values,
            NpyValues::I64(want),
            "{descr}"
        );
    }
}

#[test]
fn bools() {
    let (_d, path) = file("a.npy", npy(1, "|b1", false, "(2, 2)", &[1, 0, 0, 1]));
    assert_eq!(npy_header(&path).unwrap().dtype, Dtype::Bool);
    assert_eq!(
        read_npy(&path).unwrap().values,
        NpyValues::Bool(vec![true, false, false, true])
    );
}

#[test]
fn scalars_empty_arrays_and_python2_longs() {
    let (_d, path) = file("a.npy", npy(1, "<f8", false, "()", &2.5f64.to_le_bytes()));
    let a = read_npy(&path).unwrap();
    assert_eq!((a.shape, a.values), (vec![], NpyValues::F64(vec![2.5])));

    let (_d, path) = file("a.npy", npy(1, "<f8", false, "(0, 4)", &[]));
    assert_eq!(read_npy(&path).unwrap().values, NpyValues::F64(vec![]));

    let (_d, path) = file(
        "a.npy",
        npy(
            1,
            "<i8",
            false,
            "(1L, 2L)",
            &le(&[1i64, 2], i64::to_le_bytes),
        ),
    );
    assert_eq!(read_npy(&path).unwrap().shape, [1, 2]);
}

#[test]
fn fortran_order_is_transposed_to_row_major() {
    // [[1, 2, 3], [4, 5, 6]] stored column by column.
    let (_d, path) = file(
        "f.npy",
        npy(
            1,
            "<f8",
            true,
            "(2, 3)",
            &le(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], f64::to_le_bytes),
        ),
    );
    assert!(npy_header(&path).unwrap().fortran_order);
    assert_eq!(
        read_npy(&path).unwrap().values,
        NpyValues::F64(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    );

    // 3-d: element (i, j, k) holds 100i + 10j + k; column-major puts i fastest.
    let shape = [2usize, 3, 4];
    let mut column_major = Vec::new();
    for k in 0..4 {
        for j in 0..3 {
            for i in 0..2 {
                column_major.push((100 * i + 10 * j + k) as i64);
            }
        }
    }
    let (_d, path) = file(
        "f.npy",
        npy(
            2,
            "<i8",
            true,
            "(2, 3, 4)",
            &le(&column_major, i64::to_le_bytes),
        ),
    );
    let a = read_npy(&path).unwrap();
    let row_major: Vec<i64> = (0..shape.iter().product())
        .map(|n| (100 * (n / 12) + 10 * (n / 4 % 3) + n % 4) as i64)
        .collect();
    assert_eq!(
        (a.shape, a.values),
        (shape.to_vec(), NpyValues::I64(row_major))
    );
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        fails(&dir.path().join("none.npy"), Kind::Missing).message,
        "file not found"
    );
}

#[test]
fn bad_magic_or_version() {
    for bytes in [&b"hello, world, this is a csv"[..], b"\x93NUM", b""] {
        let (_d, path) = file("a.npy", bytes);
        assert!(fails(&path, Kind::BadHeader)
            .message
            .contains("does not start with the \\x93NUMPY magic"));
    }
    let mut bytes = npy(1, "<f8", false, "(1,)", &[0; 8]);
    bytes[6] = 4;
    let (_d, path) = file("a.npy", bytes);
    assert_eq!(
        fails(&path, Kind::BadHeader).message,
        "has .npy format version 4.0; gradc reads 1.0, 2.0 and 3.0"
    );
}

#[test]
fn malformed_header_dicts() {
    let cases = [
        (
            "{'descr': '<f8', 'fortran_order': False}",
            "has a malformed header: no \"shape\" key",
        ),
        (
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
            "has a malformed header: 'fortran_order' is not True or False",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
            "has a malformed header: 'shape' is not a tuple of sizes",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,}",
            "has a malformed header: unexpected `}`",
        ),
        (
            "{'descr': '<f8' 'shape': (1,)}",
            "has a malformed header: expected `,` or `}`, found `'`",
        ),
        (
            "['descr']",
            "has a malformed header: expected `{`, found `[`",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x",
            "has a malformed header: unexpected `x` after the dict",
        ),
    ];
    for (dict, message) in cases {
        let (_d, path) = file("a.npy", npy_raw(1, dict, &[0; 8]));
        assert_eq!(fails(&path, Kind::BadHeader).message, message, "{dict}");
    }
}

#[test]
fn data_after_the_array_is_rejected() {
    let (_d, path) = file("a.npy", npy(1, "<f8", false, "(1,)", &[0; 16]));
    assert_eq!(
        fails(&path, Kind::BadHeader).message,
        "has 8 bytes after the 8 bytes of data its header describes"
    );
}

#[test]
fn unsupported_dtypes() {
    let cases = [
        (
            ">f8",
            "has dtype \">f8\", which is big-endian; gradc reads little-endian data",
        ),
        ("<c16", "has dtype \"<c16\", which gradc does not read"),
        ("<U5", "has dtype \"<U5\", which gradc does not read"),
        ("<f2", "has dtype \"<f2\", which gradc does not read"),
        ("|O", "has dtype \"|O\", which gradc does not read"),
        (
            "<u8",
            "has dtype \"<u8\" (u64), whose values may not fit gd's i64",
        ),
    ];
    for (descr, message) in cases {
        let (_d, path) = file("a.npy", npy(1, descr, false, "(1,)", &[0; 16]));
        let err = fails(&path, Kind::UnsupportedDtype);
        assert_eq!(err.message, message);
        assert!(err.hint.unwrap().contains("astype"));
    }
    let (_d, path) = file(
        "a.npy",
        npy_raw(
            1,
            "{'descr': [('x', '<f8'), ('y', '<i4')], 'fortran_order': False, 'shape': (1,)}",
            &[0; 12],
        ),
    );
    assert!(fails(&path, Kind::UnsupportedDtype)
        .message
        .contains("structured array"));
}

#[test]
fn truncated_body_or_header() {
    let body = le(&[1.0f64; 6], f64::to_le_bytes);
    let (_d, path) = file("a.npy", npy(1, "<f8", false, "(2, 3)", &body[..47]));
    let err = fails(&path, Kind::Truncated);
    assert_eq!(err.message, "is truncated: its header describes 48 bytes of data (<f8 of shape [2, 3]), but only 47 follow it");

    let whole = npy(2, "<f8", false, "(2, 3)", &body);
    for cut in [7, 10, 30] {
        let (_d, path) = file("a.npy", &whole[..cut]);
        assert_eq!(
            fails(&path, Kind::Truncated).message,
            "is truncated: it ends inside the header",
            "cut at {cut}"
        );
    }
}

#[test]
fn too_large_is_an_error_not_an_abort() {
    let (_d, path) = file(
        "a.npy",
        npy(1, "<f8", false, "(4294967296, 4294967296, 16)", &[]),
    );
    assert!(fails(&path, Kind::TooLarge)
        .message
        .contains("more elements than can be counted"));

    let (_d, path) = file("a.npy", npy(1, "<f8", false, "(1000000000000,)", &[]));
    let err = fails(&path, Kind::TooLarge);
    assert!(
        err.message
            .starts_with("holds 7.3 TiB (f64 of shape [1000000000000])"),
        "{err}"
    );

    // The limit applies to the loaded size: 20 <i4 values are 80 bytes on disk, 160 as i64.
    let (_d, path) = file("a.npy", npy(1, "<i4", false, "(20,)", &[0; 80]));
    let err = read_npy_with_limit(&path, 100).unwrap_err();
    assert_eq!(
        (err.kind, npy_header_with_limit(&path, 100).unwrap_err()),
        (Kind::TooLarge, err.clone())
    );
    assert_eq!(
        err.message,
        "holds 160 B (i64 of shape [20]), more than the limit of 100 B"
    );
    assert!(read_npy_with_limit(&path, 160).is_ok());
}
