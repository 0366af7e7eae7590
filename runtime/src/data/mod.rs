//! Data sets for `data` items (LANGUAGE.md §4): CSV and NPY files, and seeded generated data.
//!
//! Every reader comes in two forms: a cheap one that the checker calls at compile time to
//! learn the shape ([`csv_shape`], [`npy_header`]) and a full one that loads the values
//! ([`read_csv`], [`read_npy`]). The cheap forms validate everything that would make
//! loading fail, so that a bad file is a compile-time diagnostic, not a failure mid-run.
//! Failures are [`DataError`]s: a kind, the file, the line (CSV) and a message with a hint.

mod csv;
mod error;
pub mod generate;
mod npy;
mod npy_header;
mod pylit;

pub use self::csv::{csv_shape, read_csv, ColumnKind, CsvOptions, CsvShape, Table};
pub use error::{DataError, DataErrorKind};
pub use generate::{normal, uniform, SizeError};
pub use npy::{
    npy_header, npy_header_with_limit, read_npy, read_npy_with_limit, NpyArray, NpyValues,
};
pub use npy_header::{Dtype, NpyHeader};

use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

/// Largest in-memory size (bytes) a data set may have before it is a `TooLarge` error: half
/// of the machine's physical memory (`MemTotal` in /proc/meminfo), or 8 GiB where that
/// cannot be read. Half, because the program needs room for the model and its gradients too;
/// physical rather than available memory, so that the answer does not change from run to
/// run. The point is a clear error instead of an allocation failure (an abort).
pub fn default_max_bytes() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| physical_memory().map_or(8 << 30, |m| m / 2))
}

fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Opens a data file, telling a missing file from an unreadable one and refusing directories
/// up front (on Linux, opening a directory succeeds and only the first read fails).
fn open(path: &Path) -> Result<File, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, &e))?;
    if meta.is_dir() {
        return Err(DataError::new(
            DataErrorKind::Unreadable,
            path,
            "is a directory, not a file",
        ));
    }
    File::open(path).map_err(|e| DataError::io(path, &e))
}

/// Formats a byte count for messages: `512 B`, `3.2 MiB`, `12.0 GiB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
