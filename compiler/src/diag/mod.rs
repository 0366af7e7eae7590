//! Diagnostics: every user error is a [`Diagnostic`] with a code, a message, labelled spans
//! and an optional hint, rendered with ariadne.
//!
//! Architecture Invariant: no user input reaches a `panic!`; phases collect diagnostics and
//! go on where they can, so one run reports every error it can find.

pub mod codes;

use crate::source::{FileId, SourceMap, Span};
pub use codes::Code;

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    /// The first label is the primary one: where the error is reported.
    pub labels: Vec<Label>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            labels: vec![Label { span, message: label.into() }],
            hint: None,
        }
    }

    /// Adds a secondary label (for a conflict: the other place).
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into() });
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn span(&self) -> Span {
        self.labels[0].span
    }

    /// Renders with ariadne, without colour when `color` is false (for snapshots and pipes).
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        render_all(std::slice::from_ref(self), sources, color)
    }

    /// Renders through a source cache shared by all the diagnostics of one rendering, so the
    /// files are indexed into lines once, not once per diagnostic.
    fn render_with(&self, cache: &mut impl ariadne::Cache<String>, sources: &SourceMap, color: bool) -> String {
        use ariadne::{Config, IndexType, Label as ALabel, Report, ReportKind};
        let primary = self.span();
        let name = |f: FileId| sources.get(f).name.clone();
        let config = Config::default().with_color(color).with_index_type(IndexType::Byte);
        let mut report = Report::build(ReportKind::Error, (name(primary.file), primary.range()))
            .with_config(config)
            .with_code(self.code.0)
            .with_message(&self.message);
        // ariadne draws labels best in source order; the primary one stays red.
        let mut ordered: Vec<(usize, &Label)> = self.labels.iter().enumerate().collect();
        ordered.sort_by_key(|(_, l)| (l.span.file, l.span.lo));
        for (i, label) in ordered {
            let mut l = ALabel::new((name(label.span.file), label.span.range()));
            if !label.message.is_empty() {
                l = l.with_message(&label.message);
            }
            if color {
                l = l.with_color(if i == 0 { ariadne::Color::Red } else { ariadne::Color::Blue });
            }
            report = report.with_label(l);
        }
        if let Some(hint) = &self.hint {
            report = report.with_help(hint);
        }
        let mut out = Vec::new();
        // Writing into a Vec cannot fail except through a bad span, which is a compiler bug;
        // fall back to a plain rendering rather than losing the error.
        match report.finish().write(cache, &mut out) {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(_) => self.render_plain(sources),
        }
    }

    /// A one-line-per-label rendering: `file:line:col: error[E020]: message`.
    pub fn render_plain(&self, sources: &SourceMap) -> String {
        let mut s = String::new();
        for (i, label) in self.labels.iter().enumerate() {
            let (line, col) = sources.line_col(label.span.file, label.span.lo);
            let file = &sources.get(label.span.file).name;
            if i == 0 {
                s += &format!("{file}:{line}:{col}: error[{}]: {}", self.code, self.message);
                if !label.message.is_empty() {
                    s += &format!(" ({})", label.message);
                }
            } else {
                s += &format!("\n  {file}:{line}:{col}: {}", label.message);
            }
        }
        if let Some(h) = &self.hint {
            s += &format!("\n  help: {h}");
        }
        s
    }
}

/// Renders a list of diagnostics in order, sorted by position for stable output.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by_key(|d| (d.span().file, d.span().lo));
    let mut cache = ariadne::sources(sources.files().map(|(_, f)| (f.name.clone(), f.text.as_str())));
    sorted.iter().map(|d| d.render_with(&mut cache, sources, color)).collect()
}
