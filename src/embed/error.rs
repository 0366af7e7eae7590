//! The one error type of the embedding API: what went wrong, its diagnostic code where it has
//! one, the checker's or runner's [`Diagnostic`]s, and the text the CLI would print for them
//! (without colour), which is what `Display` shows.

use std::fmt;

use gradc_compiler::diag::{Code, Diagnostic};
use gradc_compiler::source::SourceMap;

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The program file could not be read.
    Io,
    /// The program (or a function derived from it) has compile errors: parse, names, types,
    /// shapes, derivative operators — the diagnostics `gradc check` prints.
    Check,
    /// The API was called with something that does not fit: an unknown function or param, a
    /// tensor of the wrong dtype or shape, the wrong number of arguments.
    Usage,
    /// Running a kernel (or loading the program's data) failed: an index out of range,
    /// integer division by zero, an allocation refused, a data file that changed.
    Run,
}

/// An error of the embedding API. Never a panic: every user mistake and every run-time
/// failure comes back as one of these.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    code: Option<Code>,
    message: String,
    diagnostics: Vec<Diagnostic>,
    rendered: String,
}

impl Error {
    /// Diagnostics against the program's sources, rendered as the CLI renders them.
    pub(crate) fn from_diags(kind: ErrorKind, diagnostics: Vec<Diagnostic>, sources: &SourceMap) -> Error {
        let rendered = gradc_compiler::diag::render_all(&diagnostics, sources, false);
        let code = diagnostics.first().map(|d| d.code);
        let message = diagnostics.first().map(|d| d.message.clone()).unwrap_or_default();
        Error { kind, code, message, diagnostics, rendered }
    }

    /// A failure that points at no source text (a misuse of the API, a file that cannot be read).
    pub(crate) fn plain(kind: ErrorKind, code: Option<Code>, message: impl Into<String>) -> Error {
        let message = message.into();
        let rendered = match code {
            Some(c) => format!("error[{c}]: {message}\n"),
            None => format!("error: {message}\n"),
        };
        Error { kind, code, message, diagnostics: Vec::new(), rendered }
    }

    pub(crate) fn usage(code: Code, message: impl Into<String>) -> Error {
        Error::plain(ErrorKind::Usage, Some(code), message)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The code of the (first) diagnostic, e.g. `E031`; `None` only for [`ErrorKind::Io`].
    pub fn code(&self) -> Option<Code> {
        self.code
    }

    /// The one-line message of the (first) failure, without source excerpts.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Every diagnostic, in the order found (empty for usage and I/O errors, which point at no
    /// source text).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The full report, as `gradc` prints it to a pipe: code, message, source excerpts, hints.
    pub fn rendered(&self) -> &str {
        &self.rendered
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rendered.trim_end())
    }
}

impl std::error::Error for Error {}

/// The result type of the embedding API.
pub type Result<T> = std::result::Result<T, Error>;
