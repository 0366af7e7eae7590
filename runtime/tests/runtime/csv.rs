//! CSV: good files (header or not, class columns, `columns = [...]`, CSV corner cases) and
//! one test per error kind, checking kind, line and message.

use super::file;
use gradc_runtime::data::{
    csv_shape, read_csv, ColumnKind, CsvOptions, DataError, DataErrorKind as Kind, Table,
};
use std::path::Path;

fn with_header() -> CsvOptions {
    CsvOptions {
        header: true,
        ..CsvOptions::default()
    }
}

fn pick(names: &[&str]) -> CsvOptions {
    CsvOptions {
        columns: Some(names.iter().map(|s| s.to_string()).collect()),
        ..with_header()
    }
}

/// Reads with both entry points, checks they agree on the shape, returns the table.
fn read(path: &Path, opts: &CsvOptions) -> Table {
    let table = read_csv(path, opts).unwrap_or_else(|e| panic!("read_csv: {e}"));
    let shape = csv_shape(path, opts).unwrap_or_else(|e| panic!("csv_shape: {e}"));
    assert_eq!(
        (shape.rows, shape.cols, &shape.names),
        (table.rows, table.cols, &table.names)
    );
    let kinds: Vec<_> = table
        .classes
        .iter()
        .map(|c| {
            if c.is_some() {
                ColumnKind::Classes
            } else {
                ColumnKind::Numeric
            }
        })
        .collect();
    assert_eq!(shape.kinds, kinds);
    assert_eq!(table.values.len(), table.rows * table.cols);
    table
}

/// Both entry points fail the same way; returns the error.
fn fails(path: &Path, opts: &CsvOptions, kind: Kind) -> DataError {
    let err = read_csv(path, opts).expect_err("read_csv should fail");
    assert_eq!(
        csv_shape(path, opts).expect_err("csv_shape should fail"),
        err
    );
    assert_eq!(err.kind, kind, "{err}");
    assert_eq!(err.path, path);
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
    err
}

#[test]
fn header_gives_names_and_values() {
    let (_d, path) = file("pts.csv", "x,y\n1,2\n3,4.5\n-1e3,inf\n");
    let t = read(&path, &with_header());
    assert_eq!((t.rows, t.cols), (3, 2));
    assert_eq!(t.names, ["x", "y"]);
    assert_eq!(t.values, [1.0, 2.0, 3.0, 4.5, -1000.0, f64::INFINITY]);
    assert_eq!(t.classes, [None, None]);
}

#[test]
fn without_header_every_row_is_data() {
    let (_d, path) = file("pts.csv", "1,2\n3,4\n");
    let t = read(&path, &CsvOptions::default());
    assert_eq!((t.rows, t.cols, t.values), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
    assert!(t.names.is_empty());
    assert!(
        !csv_shape(&path, &CsvOptions::default())
            .unwrap()
            .header_suspected
    );
}

#[test]
fn non_numeric_columns_become_classes_in_order_of_first_appearance() {
    let (_d, path) = file(
        "iris.csv",
        "len,species\n1.5,setosa\n2,virginica\n3,setosa\n4,1\n",
    );
    let t = read(&path, &with_header());
    assert_eq!(t.values, [1.5, 0.0, 2.0, 1.0, 3.0, 0.0, 4.0, 2.0]);
    assert_eq!(
        t.classes,
        [
            None,
            Some(vec!["setosa".into(), "virginica".into(), "1".into()])
        ]
    );
}

#[test]
fn columns_pick_by_name_in_the_given_order() {
    let (_d, path) = file("abc.csv", "a,b,c\n1,2,3\n4,5,6\n");
    let t = read(&path, &pick(&["c", "a", "c"]));
    assert_eq!((t.rows, t.cols), (2, 3));
    assert_eq!(t.names, ["c", "a", "c"]);
    assert_eq!(t.values, [3.0, 1.0, 3.0, 6.0, 4.0, 6.0]);
}

#[test]
fn quoting_crlf_whitespace_bom_and_blank_lines() {
    // Whitespace around cells is trimmed, but a quote opens a quoted cell only at the start
    // of the cell (RFC 4180), so `  "q" ` is the literal text `"q"`.
    let text = "\u{feff}name, v\r\n\"Smith, J\", 1\r\n\r\n\"x\"\"y\" ,2\r\n\"multi\nline\",3\n  \"q\" ,4\n";
    let (_d, path) = file("q.csv", text);
    let t = read(&path, &with_header());
    assert_eq!(t.names, ["name", "v"]);
    assert_eq!(t.values, [0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0]);
    assert_eq!(
        t.classes[0],
        Some(vec![
            "Smith, J".into(),
            "x\"y".into(),
            "multi\nline".into(),
            "\"q\"".into()
        ])
    );
}

#[test]
fn other_delimiters() {
    let (_d, path) = file("t.tsv", "a\tb\n1\t2\n");
    let t = read(
        &path,
        &CsvOptions {
            delimiter: b'\t',
            ..with_header()
        },
    );
    assert_eq!(t.values, [1.0, 2.0]);
}

#[test]
fn a_forgotten_header_is_suspected() {
    let (_d, path) = file("pts.csv", "x,y\n1,2\n3,4\n");
    let shape = csv_shape(&path, &CsvOptions::default()).unwrap();
    assert!(shape.header_suspected);
    assert_eq!(shape.kinds, [ColumnKind::Classes, ColumnKind::Classes]);
    assert!(!csv_shape(&path, &with_header()).unwrap().header_suspected);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&dir.path().join("nope.csv"), &with_header(), Kind::Missing);
    assert_eq!((err.line, err.message.as_str()), (None, "file not found"));
    assert!(err.hint.unwrap().contains("relative to the .gd file"));
}

#[test]
fn a_directory_is_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(dir.path(), &with_header(), Kind::Unreadable);
    assert_eq!(err.message, "is a directory, not a file");
}

#[test]
fn empty_files() {
    for text in ["", "\n\n", "\r\n"] {
        let (_d, path) = file("e.csv", text);
        let err = fails(&path, &CsvOptions::default(), Kind::Empty);
        assert_eq!(err.message, "is empty: it has no rows");
    }
    let (_d, path) = file("h.csv", "a,b\n");
    let err = fails(&path, &with_header(), Kind::Empty);
    assert_eq!(err.message, "has a header but no data rows");
}

#[test]
fn ragged_rows_name_their_line() {
    let (_d, path) = file("r.csv", "a,b\n1,2\n1,2,3\n");
    let err = fails(&path, &with_header(), Kind::Ragged);
    assert_eq!(
        (err.line, err.message.as_str()),
        (Some(3), "line 3 has 3 cells, the header has 2")
    );
    assert!(
        err.to_string()
            .contains("r.csv: line 3 has 3 cells, the header has 2 (hint: "),
        "{err}"
    );

    let (_d, path) = file("r.csv", "1,2\n3,4\n5\n");
    let err = fails(&path, &CsvOptions::default(), Kind::Ragged);
    assert_eq!(
        (err.line, err.message.as_str()),
        (Some(3), "line 3 has 1 cell, the first row has 2")
    );
}

#[test]
fn line_numbers_count_lines_not_records() {
    // A quoted cell spans lines 2-3 and a blank line follows: the bad row is on line 5.
    let (_d, path) = file("r.csv", "a,b\n\"x\ny\",1\n\n2\n");
    let err = fails(&path, &with_header(), Kind::Ragged);
    assert_eq!(err.line, Some(5), "{err}");
    assert!(err.message.starts_with("line 5 has"));
    // CRLF line ends and blank lines (which the csv crate's own count gets wrong).
    let (_d, path) = file("r.csv", "a,b\r\n1,2\r\n\r\n\r\n3,4\r\n5,\r\n");
    assert_eq!(fails(&path, &with_header(), Kind::EmptyCell).line, Some(6));
    let (_d, path) = file("r.csv", "a,b\n\n1,2\n");
    assert_eq!(
        fails(&path, &pick(&["c"]), Kind::UnknownColumn).line,
        Some(1)
    );
}

#[test]
fn empty_cells_name_line_and_column() {
    let (_d, path) = file("m.csv", "a,b\n1,2\n3,  \n");
    let err = fails(&path, &with_header(), Kind::EmptyCell);
    assert_eq!(
        (err.line, err.message.as_str()),
        (Some(3), "line 3, column 2 (\"b\") is empty")
    );
    // Leaving the sparse column out makes the file usable.
    assert_eq!(read(&path, &pick(&["a"])).values, [1.0, 3.0]);

    let (_d, path) = file("m.csv", "1,,2\n");
    let err = fails(&path, &CsvOptions::default(), Kind::EmptyCell);
    assert_eq!(err.message, "line 1, column 2 is empty");
}

#[test]
fn unknown_columns_list_the_real_ones() {
    let (_d, path) = file("abc.csv", "alpha,beta\n1,2\n");
    let err = fails(&path, &pick(&["gamma"]), Kind::UnknownColumn);
    assert_eq!(
        err.message,
        "has no column named \"gamma\"; its columns are \"alpha\", \"beta\""
    );
    assert_eq!((err.line, err.hint), (Some(1), None));

    let err = fails(&path, &pick(&["Alpha"]), Kind::UnknownColumn);
    assert_eq!(err.hint.as_deref(), Some("did you mean \"alpha\"?"));
    let err = fails(&path, &pick(&["bta"]), Kind::UnknownColumn);
    assert_eq!(err.hint.as_deref(), Some("did you mean \"beta\"?"));

    let no_header = CsvOptions {
        header: false,
        ..pick(&["alpha"])
    };
    let err = fails(&path, &no_header, Kind::UnknownColumn);
    assert!(err.message.contains("without a header"), "{err}");
}

#[test]
fn too_large_stops_at_the_limit() {
    let (_d, path) = file("big.csv", "a,b\n1,2\n3,4\n5,6\n");
    let opts = CsvOptions {
        max_bytes: 40,
        ..with_header()
    }; // two rows of two f64 fit, three do not
    let err = fails(&path, &opts, Kind::TooLarge);
    assert_eq!(err.line, Some(4));
    assert_eq!(err.message, "holds more than 40 B of values (the limit)");
    assert_eq!(
        read(
            &path,
            &CsvOptions {
                max_bytes: 40,
                ..pick(&["a"])
            }
        )
        .rows,
        3
    );
}
