//! CSV data sets: `data d = csv("f.csv", header = true, columns = ["a", "c"]);` is `f64[rows, cols]`.
//!
//! Rules (written down here because the language leaves them to us):
//! - A column is *numeric* iff every one of its cells parses as a Rust `f64` (`3`, `-1.5e3`,
//!   `inf`, `NaN`); otherwise it is a *class* column and each cell becomes the index (0, 1, …)
//!   of its text in order of first appearance, numbers included (`"1", "x", "1"` → 0, 1, 0).
//!   The decision is per column and over the whole file.
//! - Cells are trimmed of surrounding whitespace. An empty cell is an error (a missing value
//!   would otherwise silently become a class, or a NaN), naming its line and column. Only the
//!   picked columns are checked, so `columns = [...]` can leave a sparse column out.
//! - Every row must have as many cells as the header (or, without a header, the first row).
//!   Blank lines are skipped (the `csv` crate does so); a line of spaces is a one-cell row.
//! - `columns` picks by header name, in the order given (a name may repeat); it needs
//!   `header = true`. With duplicate header names the first one is picked.
//! - A header with no data rows is `Empty`: a data set of no rows cannot be trained on.
//!
//! Reading takes two passes over the file: the first decides the column kinds (the same
//! pass [`csv_shape`] makes for the checker), the second converts. That costs a second read
//! of a file that is in the page cache by then, instead of keeping every cell's text.

use super::{default_max_bytes, human_bytes, open, DataError, DataErrorKind as Kind};
use std::collections::HashMap;
use std::path::Path;

/// How to read a CSV file: the named arguments of `csv(...)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first row names the columns (default `false`).
    pub header: bool,
    /// Pick these columns, by header name, in this order; `None` keeps all.
    pub columns: Option<Vec<String>>,
    /// Field separator (default `b','`).
    pub delimiter: u8,
    /// `TooLarge` past this many bytes of `f64` values (default [`default_max_bytes`]).
    pub max_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: false,
            columns: None,
            delimiter: b',',
            max_bytes: default_max_bytes(),
        }
    }
}

/// Whether a column holds numbers or class labels (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    Numeric,
    Classes,
}

/// What the checker needs: the shape `f64[rows, cols]` and what each column is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvShape {
    pub rows: usize,
    pub cols: usize,
    /// Header names of the picked columns, in order; empty without a header.
    pub names: Vec<String>,
    pub kinds: Vec<ColumnKind>,
    /// Without a header: some column is numeric except in its first row, which looks like a
    /// forgotten `header = true`. The checker can warn; the data is still read as asked.
    pub header_suspected: bool,
}

/// A loaded CSV data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub rows: usize,
    pub cols: usize,
    /// Header names of the picked columns, in order; empty without a header.
    pub names: Vec<String>,
    /// Per column: `None` if numeric, else the class labels, label `i` being class `i`.
    pub classes: Vec<Option<Vec<String>>>,
    /// Row-major, `rows * cols` values.
    pub values: Vec<f64>,
}

/// Checks a CSV file and returns its shape, without keeping its values: fails exactly when
/// [`read_csv`] would (but for the file changing in between).
pub fn csv_shape(path: &Path, opts: &CsvOptions) -> Result<CsvShape, DataError> {
    let mut stats: Vec<(usize, usize)> = Vec::new(); // per column: (non-numbers, first one's row)
    let layout = scan(path, opts, |row, col, cell| {
        if col == stats.len() {
            stats.push((0, 0));
        }
        if parse_number(cell).is_none() {
            if stats[col].0 == 0 {
                stats[col].1 = row;
            }
            stats[col].0 += 1;
        }
        true
    })?;
    let kinds = stats.iter().map(|s| {
        if s.0 == 0 {
            ColumnKind::Numeric
        } else {
            ColumnKind::Classes
        }
    });
    let header_suspected =
        !opts.header && layout.rows > 1 && stats.iter().any(|&(n, first)| n == 1 && first == 0);
    Ok(CsvShape {
        rows: layout.rows,
        cols: layout.cols,
        names: layout.names,
        kinds: kinds.collect(),
        header_suspected,
    })
}

/// Loads a CSV file as a row-major `f64` table (see the module docs for the rules).
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Table, DataError> {
    let shape = csv_shape(path, opts)?;
    let (rows, cols) = (shape.rows, shape.cols);
    let mut values = Vec::with_capacity(rows * cols); // bounded by max_bytes in the first pass
    let mut interners: Vec<Option<Interner>> = shape
        .kinds
        .iter()
        .map(|k| (*k == ColumnKind::Classes).then(Interner::default))
        .collect();
    scan(path, opts, |_, col, cell| match &mut interners[col] {
        None => parse_number(cell).map(|v| values.push(v)).is_some(),
        Some(classes) => {
            values.push(classes.index(cell) as f64);
            true
        }
    })
    .and_then(|layout| {
        if layout.rows == rows {
            Ok(())
        } else {
            Err(changed(path))
        }
    })?;
    let classes = interners.into_iter().map(|i| i.map(|i| i.labels)).collect();
    Ok(Table {
        rows,
        cols,
        names: shape.names,
        classes,
        values,
    })
}

/// Class labels in order of first appearance.
#[derive(Default)]
struct Interner {
    index: HashMap<Vec<u8>, usize>,
    labels: Vec<String>,
}

impl Interner {
    fn index(&mut self, cell: &[u8]) -> usize {
        if let Some(&i) = self.index.get(cell) {
            return i;
        }
        self.labels.push(String::from_utf8_lossy(cell).into_owned());
        self.index.insert(cell.to_vec(), self.labels.len() - 1);
        self.labels.len() - 1
    }
}

fn parse_number(cell: &[u8]) -> Option<f64> {
    std::str::from_utf8(cell).ok()?.parse().ok()
}

fn changed(path: &Path) -> DataError {
    DataError::new(Kind::Unreadable, path, "changed while it was being read")
}

/// What a pass learned about the file's layout.
struct Layout {
    rows: usize,
    /// Header names of the picked columns; empty without a header.
    names: Vec<String>,
    cols: usize,
}

/// One pass over the file: validates the structure (cell counts, empty cells, size) and
/// calls `visit(data_row, picked_column, cell)` for each picked cell, row by row.
/// `visit` returns false when the cell contradicts the first pass (the file changed).
fn scan(
    path: &Path,
    opts: &CsvOptions,
    mut visit: impl FnMut(usize, usize, &[u8]) -> bool,
) -> Result<Layout, DataError> {
    if opts.columns.is_some() && !opts.header {
        return Err(DataError::new(
            Kind::UnknownColumn,
            path,
            "`columns` picks columns by header name, but the file is read without a header",
        )
        .with_hint("add `header = true` if the first row names the columns"));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true) // cell counts are checked here, to say which line and what was expected
        .trim(::csv::Trim::All)
        .delimiter(opts.delimiter)
        .from_reader(open(path)?);
    let mut record = ::csv::ByteRecord::new();
    let mut width = None; // cells per row, from the first row
    let (mut names, mut all_names, mut picked): (Vec<String>, Vec<String>, Vec<usize>) =
        Default::default();
    let mut rows = 0usize;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        let byte = record.position().map_or(0, |p| p.byte());
        let line = || line_at(path, byte);
        if width.is_none() {
            width = Some(record.len());
            if opts.header {
                all_names = record
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
                picked = pick(path, line(), &all_names, opts.columns.as_deref())?;
                names = picked.iter().map(|&i| all_names[i].clone()).collect();
                continue;
            }
            picked = (0..record.len()).collect();
        }
        let expected = width.unwrap_or_default();
        if record.len() != expected {
            return Err(ragged(path, line(), record.len(), expected, opts.header));
        }
        for (col, &i) in picked.iter().enumerate() {
            let cell = &record[i];
            if cell.is_empty() {
                let name = all_names
                    .get(i)
                    .map_or(String::new(), |n| format!(" ({n:?})"));
                let line = line();
                return Err(DataError::new(
                    Kind::EmptyCell,
                    path,
                    format!("line {line}, column {}{name} is empty", i + 1),
                )
                .at_line(line)
                .with_hint(
                    "fill in the missing values, or leave the column out with `columns = [...]`",
                ));
            }
            if !visit(rows, col, cell) {
                return Err(changed(path));
            }
        }
        rows += 1;
        let bytes = (rows as u64)
            .saturating_mul(picked.len() as u64)
            .saturating_mul(8);
        if bytes > opts.max_bytes {
            return Err(DataError::new(
                Kind::TooLarge,
                path,
                format!(
                    "holds more than {} of values (the limit)",
                    human_bytes(opts.max_bytes)
                ),
            )
            .at_line(line())
            .with_hint("use a smaller file, or pick fewer columns with `columns = [...]`"));
        }
    }
    match (width, rows) {
        (None, _) => Err(DataError::new(
            Kind::Empty,
            path,
            "is empty: it has no rows",
        )),
        (Some(_), 0) => Err(
            DataError::new(Kind::Empty, path, "has a header but no data rows").with_hint(
                "a data set needs at least one row; with no header, pass `header = false`",
            ),
        ),
        _ => Ok(Layout {
            rows,
            names,
            cols: picked.len(),
        }),
    }
}

fn ragged(path: &Path, line: usize, got: usize, width: usize, header: bool) -> DataError {
    let first = if header {
        "the header"
    } else {
        "the first row"
    };
    let message = if got == 1 {
        format!("line {line} has 1 cell, {first} has {width}")
    } else {
        format!("line {line} has {got} cells, {first} has {width}")
    };
    DataError::new(Kind::Ragged, path, message)
        .at_line(line)
        .with_hint(
            "every row needs the same number of cells; quote cells that contain the delimiter",
        )
}

/// Resolves `columns = [...]` against the header's names.
fn pick(
    path: &Path,
    line: usize,
    names: &[String],
    wanted: Option<&[String]>,
) -> Result<Vec<usize>, DataError> {
    let Some(wanted) = wanted else {
        return Ok((0..names.len()).collect());
    };
    wanted
        .iter()
        .map(|w| {
            names.iter().position(|n| n == w).ok_or_else(|| {
                let list = names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let error = DataError::new(
                    Kind::UnknownColumn,
                    path,
                    format!("has no column named {w:?}; its columns are {list}"),
                )
                .at_line(line);
                match closest(w, names) {
                    Some(n) => error.with_hint(format!("did you mean {n:?}?")),
                    None => error,
                }
            })
        })
        .collect()
}

/// The header name nearest to a misspelt one: same letters up to case, or an edit distance
/// of at most a third of its length.
fn closest<'a>(wanted: &str, names: &'a [String]) -> Option<&'a String> {
    if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(wanted)) {
        return Some(n);
    }
    let limit = (wanted.chars().count() / 3).max(1);
    names
        .iter()
        .map(|n| (edit_distance(wanted, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn csv_error(path: &Path, err: ::csv::Error) -> DataError {
    let line = err.position().map(|p| line_at(path, p.byte()));
    let error = match err.into_kind() {
        ::csv::ErrorKind::Io(e) => DataError::io(path, &e),
        other => DataError::new(
            Kind::Unreadable,
            path,
            format!("is not valid CSV: {other:?}"),
        ),
    };
    match line {
        Some(line) => error.at_line(line),
        None => error,
    }
}

/// The 1-based line on which the record at byte offset `byte` starts, for messages. The
/// `csv` crate's own line count skips blank lines and CRLF line ends, and its byte offset
/// points before the blank lines it skipped; so count the '\n's up to the offset, then step
/// over the line ends that follow it. Called only on errors: it reads the file's head again.
fn line_at(path: &Path, byte: u64) -> usize {
    use std::io::{BufReader, Read};
    let Ok(file) = std::fs::File::open(path) else {
        return 0;
    };
    let mut bytes = BufReader::new(file).bytes().map_while(Result::ok);
    let before = bytes
        .by_ref()
        .take(byte as usize)
        .filter(|&b| b == b'\n')
        .count();
    let after = bytes
        .take_while(|&b| b == b'\n' || b == b'\r')
        .filter(|&b| b == b'\n')
        .count();
    1 + before + after
}
