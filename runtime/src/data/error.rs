//! [`DataError`]: why a data file cannot be used, in terms a user can act on.
//!
//! The compiler turns these into diagnostics (the `data` item's span, the message, the
//! hint); `Display` gives a one-line form for everything else.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong with a data file. The compiler maps each kind to an error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataErrorKind {
    /// The file does not exist.
    Missing,
    /// It exists but cannot be read: permissions, a directory, another I/O error.
    Unreadable,
    /// No rows (CSV), or a header and no data rows.
    Empty,
    /// A CSV row whose cell count differs from the header's (or the first row's).
    Ragged,
    /// A CSV cell that is empty or only whitespace (a missing value).
    EmptyCell,
    /// `columns = [...]` names a column the header does not have.
    UnknownColumn,
    /// NPY: not the NumPy magic, or a header dict that cannot be parsed.
    BadHeader,
    /// NPY: a dtype gradc does not read (big-endian, complex, strings, structured …).
    UnsupportedDtype,
    /// NPY: the file ends before the data its header describes.
    Truncated,
    /// The data would take more memory than the limit (see `default_max_bytes`).
    TooLarge,
}

/// A data file that cannot be used. `line` is 1-based (CSV only); `message` does not
/// repeat the path; `hint` says what to do, where there is something to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    pub kind: DataErrorKind,
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl DataError {
    pub fn new(kind: DataErrorKind, path: &Path, message: impl Into<String>) -> Self {
        DataError {
            kind,
            path: path.to_path_buf(),
            line: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Maps an I/O error: not-found is `Missing`, anything else `Unreadable` (with the
    /// operating system's words, which say e.g. "Permission denied").
    pub(crate) fn io(path: &Path, err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::NotFound => {
                DataError::new(DataErrorKind::Missing, path, "file not found")
                    .with_hint("input paths are relative to the .gd file that names them")
            }
            io::ErrorKind::PermissionDenied => DataError::new(
                DataErrorKind::Unreadable,
                path,
                "cannot be read: permission denied",
            ),
            _ => DataError::new(
                DataErrorKind::Unreadable,
                path,
                format!("cannot be read: {err}"),
            ),
        }
    }
}

impl fmt::Display for DataError {
    /// `data/f.csv: line 7 has 3 cells, the header has 2 (hint: …)`. The line number is in
    /// the message where it matters, so it is not repeated as `path:7:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}
