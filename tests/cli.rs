//! The `gradc` binary as a user runs it: exit statuses (0 success, 1 a user error, 2 a usage
//! error), what goes to stdout and to stderr, the files `save` writes, and the bad data files
//! `gradc run` meets (LANGUAGE.md §10, §13).
//!
//! Every test writes its programs and data into a fresh temporary directory and runs the
//! binary there, so the output paths of `save` land in it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use safetensors::{Dtype, SafeTensors};
use tempfile::TempDir;

/// What one run of the binary gave.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Asserts the exit status, showing both streams when it differs.
    fn expect_code(&self, code: i32, what: &str) -> &Run {
        assert_eq!(self.code, Some(code), "{what}: exit status\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "{what}: gradc panicked:\n{}", self.stderr);
        self
    }

    /// Asserts a failure with `code` (1) reported as an error with the diagnostic code `diag`.
    fn expect_error(&self, diag: &str, what: &str) -> &Run {
        self.expect_code(1, what);
        assert!(self.stderr.contains("error") || self.stderr.contains("Error"), "{what}: stderr says no error:\n{}", self.stderr);
        assert!(self.stderr.contains(&format!("[{diag}]")), "{what}: stderr lacks {diag}:\n{}", self.stderr);
        self
    }
}

/// Runs `gradc ARGS` in `dir`.
fn gradc(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gradc")).args(args).current_dir(dir).output().expect("the gradc binary runs");
    Run::from(out)
}

/// Runs `gradc ARGS` in `dir` with at most `mem_kib` KiB of address space and `secs` seconds:
/// for programs that a bug makes eat all the memory. `None` if it did not finish in time.
fn gradc_limited(dir: &Path, args: &[&str], mem_kib: u64, secs: u64) -> Option<Run> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {mem_kib}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("the child can be waited for").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Run::from(child.wait_with_output().expect("the output can be read")))
}

/// A fresh directory with `files` (name, contents) written into it.
fn dir_with(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).expect("the file can be written");
    }
    dir
}

/// The names of the entries of `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).expect("readable").map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A little-endian `.npy` file (version 1.0) with the given header fields and body.
fn npy(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + newline, padded to 64 bytes.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

// ---------------------------------------------------------------------------------------
// gradc run

#[test]
fn run_prints_exactly_the_program_output_and_exits_0() {
    let program = r#"
param w: f64[2, 2] = [[1.0, 2.0], [3.0, 4.0]];
param n: i64 = 3;
fn twice[N](x: f64[N]) -> f64[N] { 2.0 * x }
fn pair(x: f64) -> (f64, bool) { (x / 4.0, x > 1.0) }
print "w", w;
print "sum", sum(w), "n + 1", n + 1;
print twice([0.5, 1.5]), pair(2.0);
print 1e-7, 1.0 / 0.0, 7 / 2, -7 % 2;
assert sum(w) == 10.0;
"#;
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_code(0, "a program that runs");
    assert_eq!(run.stdout, "w [[1.0, 2.0], [3.0, 4.0]]\nsum 10.0 n + 1 4\n[1.0, 3.0] (0.5, true)\n1e-7 inf 3 -1\n");
    assert_eq!(run.stderr, "", "a clean run writes nothing to stderr");
    assert_eq!(listing(dir.path()), ["main.gd"], "a run without `save` writes no file");
}

#[test]
fn the_seed_fixes_random_initialisers() {
    let program = "param w: f64[3] = normal(0.0, 1.0);\nprint w;\n";
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    let a = gradc(dir.path(), &["run", "main.gd", "--seed", "5"]);
    let b = gradc(dir.path(), &["run", "--seed", "5", "main.gd"]);
    let c = gradc(dir.path(), &["run", "main.gd", "--seed", "6"]);
    let d = gradc(dir.path(), &["run", "main.gd"]);
    for r in [&a, &b, &c, &d] {
        r.expect_code(0, "a random initialiser");
    }
    assert_eq!(a.stdout, b.stdout, "the same seed gives the same numbers");
    assert_ne!(a.stdout, c.stdout, "another seed gives other numbers");
    assert_eq!(d.stdout, gradc(dir.path(), &["run", "main.gd", "--seed", "0"]).stdout, "the default seed is 0");
}

#[test]
fn a_failing_assert_exits_1_after_the_earlier_output() {
    let program = "param w: f64 = 2.0;\nprint \"w is\", w;\nassert w < 1.0;\nprint \"never\";\n";
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_error("E092", "a failing assert");
    assert_eq!(run.stdout, "w is 2.0\n", "the print before the assert runs; the one after does not");
    assert!(run.stderr.contains("main.gd:3:1"), "the error points at the assert:\n{}", run.stderr);
    assert!(run.stderr.contains("assertion failed: `w < 1.0`"), "{}", run.stderr);
    // Piped, the diagnostic has no colour codes.
    assert!(!run.stderr.contains('\x1b'), "colour codes on a pipe:\n{}", run.stderr);
}

#[test]
fn a_check_error_exits_1_without_running_anything() {
    let program = "print \"start\";\nparam w: f64[3] = zeros();\nprint w @ [1.0, 2.0];\n";
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_error("E041", "a shape error");
    assert_eq!(run.stdout, "", "nothing runs when the check fails");
    assert!(run.stderr.contains("error: 1 error found in `main.gd`"), "{}", run.stderr);
    // `gradc check` reports the same, and prints nothing on stdout either.
    let check = gradc(dir.path(), &["check", "main.gd"]);
    check.expect_error("E041", "gradc check of a shape error");
    assert_eq!(check.stdout, "");
    assert_eq!(check.stderr, run.stderr, "check and run report the same diagnostics");
}

#[test]
fn check_of_a_correct_program_exits_0_silently() {
    let dir = dir_with(&[("main.gd", b"param w: f64 = 1.0;\nprint w;\n")]);
    let run = gradc(dir.path(), &["check", "main.gd"]);
    run.expect_code(0, "gradc check");
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""), "check runs no statement");
}

#[test]
fn a_missing_program_file_exits_1() {
    let dir = dir_with(&[]);
    for cmd in ["run", "check", "ir"] {
        let run = gradc(dir.path(), &[cmd, "nowhere.gd"]);
        run.expect_code(1, "a missing .gd file");
        assert!(run.stderr.contains("error: cannot read `nowhere.gd`"), "{cmd}: {}", run.stderr);
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = dir_with(&[("main.gd", b"print 1;\n")]);
    for args in [&["run", "--no-such-flag", "main.gd"][..], &["run"], &[], &["frobnicate", "main.gd"], &["run", "main.gd", "--seed", "minus-one"]] {
        let run = gradc(dir.path(), args);
        run.expect_code(2, &format!("gradc {}", args.join(" ")));
        assert_eq!(run.stdout, "", "gradc {}: a usage error runs nothing", args.join(" "));
        assert!(run.stderr.contains("error") || run.stderr.contains("Usage:"), "gradc {}: no message:\n{}", args.join(" "), run.stderr);
    }
    // Help and version are not errors.
    let help = gradc(dir.path(), &["--help"]);
    help.expect_code(0, "gradc --help");
    assert!(help.stdout.contains("run"), "{}", help.stdout);
    gradc(dir.path(), &["--version"]).expect_code(0, "gradc --version");
}

// ---------------------------------------------------------------------------------------
// gradc ir

const IR_PROGRAM: &str = r#"
fn scale(x: f64) -> f64 { x * 1.0 + 2.0 }
fn model[B](x: f64[B]) -> f64[B] { x * 2.0 }
print scale(1.0), model([1.0, 2.0]), model([1.0, 2.0, 3.0]);
"#;

#[test]
fn ir_prints_a_graph_per_function_and_fn_filters() {
    let dir = dir_with(&[("main.gd", IR_PROGRAM.as_bytes())]);
    let all = gradc(dir.path(), &["ir", "main.gd"]);
    all.expect_code(0, "gradc ir");
    assert!(all.stdout.starts_with("graph "), "{}", all.stdout);
    let heads: Vec<&str> = all.stdout.lines().filter(|l| l.starts_with("graph ")).collect();
    assert_eq!(heads, ["graph scale", "graph model[B=2]", "graph model[B=3]"], "{}", all.stdout);
    assert!(all.stdout.lines().any(|l| l.trim_start().starts_with("return ")), "{}", all.stdout);

    let model = gradc(dir.path(), &["ir", "main.gd", "--fn", "model"]);
    model.expect_code(0, "gradc ir --fn model");
    let heads: Vec<&str> = model.stdout.lines().filter(|l| l.starts_with("graph ")).collect();
    assert_eq!(heads, ["graph model[B=2]", "graph model[B=3]"], "--fn keeps every instance:\n{}", model.stdout);
    assert!(model.stdout.starts_with("graph model[B=2]"));

    let one = gradc(dir.path(), &["ir", "main.gd", "--fn", "model[B=3]"]);
    one.expect_code(0, "gradc ir --fn model[B=3]");
    assert!(one.stdout.starts_with("graph model[B=3]\n"), "{}", one.stdout);
    assert_eq!(one.stdout.matches("graph ").count(), 1);

    let unknown = gradc(dir.path(), &["ir", "main.gd", "--fn", "modle"]);
    unknown.expect_code(1, "gradc ir --fn of an unknown name");
    assert_eq!(unknown.stdout, "");
    assert!(unknown.stderr.contains("error") && unknown.stderr.contains("`modle`"), "{}", unknown.stderr);
}

#[test]
fn ir_raw_shows_the_graph_before_simplification() {
    let dir = dir_with(&[("main.gd", IR_PROGRAM.as_bytes())]);
    let simple = gradc(dir.path(), &["ir", "main.gd", "--fn", "scale"]);
    let raw = gradc(dir.path(), &["ir", "main.gd", "--fn", "scale", "--raw"]);
    simple.expect_code(0, "gradc ir");
    raw.expect_code(0, "gradc ir --raw");
    assert_ne!(simple.stdout, raw.stdout, "`x * 1.0` is simplified away");
    assert!(raw.stdout.contains("mul"), "the raw graph keeps `x * 1.0`:\n{}", raw.stdout);
    assert!(!simple.stdout.contains("mul"), "the simplified graph drops `x * 1.0`:\n{}", simple.stdout);
    assert!(raw.stdout.starts_with("graph scale\n") && simple.stdout.starts_with("graph scale\n"));
}

#[test]
fn ir_of_a_program_with_errors_exits_1() {
    let dir = dir_with(&[("main.gd", b"fn f(x: f64) -> f64 { x + y }\n")]);
    let run = gradc(dir.path(), &["ir", "main.gd"]);
    run.expect_error("E020", "gradc ir of an undefined name");
    assert_eq!(run.stdout, "");
}

// ---------------------------------------------------------------------------------------
// save

/// The tensors of a safetensors file: name, dtype, shape, raw little-endian bytes.
fn read_safetensors(path: &Path) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{} is not a safetensors file: {e}", path.display()));
    let mut out: Vec<_> = st.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn save_writes_every_param_to_a_safetensors_file() {
    let program = r#"
param w: f64[2, 3] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
param b: f32[3] = [0.5, -0.25, 8.0];
param n: i64 = -7;
param mask: bool[2] = [true, false];
save "params.safetensors";
"#;
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    gradc(dir.path(), &["run", "main.gd"]).expect_code(0, "a program with save");
    let tensors = read_safetensors(&dir.path().join("params.safetensors"));
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let expected = vec![
        ("b".to_string(), Dtype::F32, vec![3], f32s(&[0.5, -0.25, 8.0])),
        ("mask".to_string(), Dtype::BOOL, vec![2], vec![1, 0]),
        ("n".to_string(), Dtype::I64, vec![], (-7i64).to_le_bytes().to_vec()),
        ("w".to_string(), Dtype::F64, vec![2, 3], f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
    ];
    assert_eq!(tensors, expected);
}

#[test]
fn save_then_load_round_trips() {
    let save = "param w: f64[2] = normal(0.0, 1.0);\nprint w;\nsave \"p.safetensors\";\n";
    let load = "param w: f64[2] = zeros();\nload \"p.safetensors\";\nprint w;\n";
    let dir = dir_with(&[("save.gd", save.as_bytes()), ("load.gd", load.as_bytes())]);
    let saved = gradc(dir.path(), &["run", "save.gd", "--seed", "3"]);
    saved.expect_code(0, "save");
    let loaded = gradc(dir.path(), &["run", "load.gd"]);
    loaded.expect_code(0, "load");
    assert_eq!(saved.stdout, loaded.stdout, "load gives back the saved values, to the last bit");
}

#[test]
fn save_over_an_existing_file_replaces_it_and_leaves_no_temporary_file() {
    let first = "param w: f64[2] = [1.0, 2.0];\nsave \"out.safetensors\";\n";
    let second = "param w: f64[3] = [7.0, 8.0, 9.0];\nparam v: f32 = 0.5;\nsave \"out.safetensors\";\nsave \"out.safetensors\";\n";
    let dir = dir_with(&[("first.gd", first.as_bytes()), ("second.gd", second.as_bytes())]);
    let out = dir.path().join("out.safetensors");
    gradc(dir.path(), &["run", "first.gd"]).expect_code(0, "the first save");
    assert_eq!(read_safetensors(&out), vec![("w".to_string(), Dtype::F64, vec![2], f64s(&[1.0, 2.0]))]);
    gradc(dir.path(), &["run", "second.gd"]).expect_code(0, "the second save, twice over one path");
    assert_eq!(
        read_safetensors(&out),
        vec![("v".to_string(), Dtype::F32, vec![], 0.5f32.to_le_bytes().to_vec()), ("w".to_string(), Dtype::F64, vec![3], f64s(&[7.0, 8.0, 9.0]))],
        "the file holds the new params only"
    );
    assert_eq!(listing(dir.path()), ["first.gd", "out.safetensors", "second.gd"], "a temporary file was left behind");
}

#[test]
fn a_failed_save_leaves_the_directory_as_it_was() {
    // The target is a directory: the save fails, and neither the directory nor its
    // neighbourhood changes.
    let program = "param w: f64 = 1.0;\nprint \"saving\";\nsave \"out\";\n";
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_error("E094", "save onto a directory");
    assert_eq!(run.stdout, "saving\n");
    assert_eq!(listing(dir.path()), ["main.gd", "out"]);
    assert!(listing(&dir.path().join("out")).is_empty());

    let missing = dir_with(&[("main.gd", b"param w: f64 = 1.0;\nsave \"no/such/dir/p.safetensors\";\n")]);
    let run = gradc(missing.path(), &["run", "main.gd"]);
    run.expect_error("E094", "save into a missing directory");
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert_eq!(listing(missing.path()), ["main.gd"]);
}

// ---------------------------------------------------------------------------------------
// Bad data files met by `gradc run`. They are read when the program is checked (for their
// shapes), so `gradc run` stops before running anything, with the data-file codes E080–E082.

/// Runs `print d;` for a data set declared by `decl`, with `files` beside the program, and
/// expects the error `code`; returns the run.
fn bad_data(decl: &str, files: &[(&str, &[u8])], code: &str, what: &str) -> Run {
    let program = format!("print \"start\";\n{decl}\nprint d;\n");
    let mut all = files.to_vec();
    all.push(("main.gd", program.as_bytes()));
    let dir = dir_with(&all);
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_error(code, what);
    assert_eq!(run.stdout, "", "{what}: the program ran although its data is bad");
    assert!(run.stderr.contains("main.gd:2:"), "{what}: the error does not point at the `data` line:\n{}", run.stderr);
    run
}

#[test]
fn run_reports_a_missing_data_file() {
    let run = bad_data(r#"data d = csv("points.csv", header = true);"#, &[], "E080", "a missing CSV");
    assert!(run.stderr.contains("points.csv: file not found"), "{}", run.stderr);
    let run = bad_data(r#"data d = npy("points.npy");"#, &[], "E080", "a missing NPY");
    assert!(run.stderr.contains("points.npy: file not found"), "{}", run.stderr);
}

#[test]
fn run_reports_ragged_csv_rows_with_the_line() {
    let run = bad_data(r#"data d = csv("pts.csv", header = true);"#, &[("pts.csv", b"x,y\n1,2\n3,4\n5\n6,7\n")], "E081", "a ragged CSV");
    assert!(run.stderr.contains("pts.csv: line 4 has 1 cell, the header has 2"), "{}", run.stderr);
    // Without a header the first row sets the width.
    let run = bad_data(r#"data d = csv("pts.csv", header = false);"#, &[("pts.csv", b"1,2\n3,4,5\n")], "E081", "a ragged CSV without header");
    assert!(run.stderr.contains("pts.csv: line 2 has 3 cells"), "{}", run.stderr);
}

#[test]
fn run_reports_an_empty_csv_cell_with_the_line_and_column() {
    let run = bad_data(r#"data d = csv("pts.csv", header = true);"#, &[("pts.csv", b"x,y\n1,2\n3,\n")], "E081", "an empty cell");
    assert!(run.stderr.contains("pts.csv: line 3, column 2 (\"y\") is empty"), "{}", run.stderr);
}

#[test]
fn run_reports_an_empty_csv() {
    let run = bad_data(r#"data d = csv("pts.csv", header = true);"#, &[("pts.csv", b"")], "E081", "an empty CSV");
    assert!(run.stderr.contains("pts.csv: is empty"), "{}", run.stderr);
    let run = bad_data(r#"data d = csv("pts.csv", header = true);"#, &[("pts.csv", b"x,y\n")], "E081", "a CSV with only a header");
    assert!(run.stderr.contains("pts.csv: has a header but no data rows"), "{}", run.stderr);
}

/// A numeric column with one non-numeric cell is not an error: LANGUAGE.md §4 makes every
/// non-numeric column class indices (0, 1, … in order of first appearance), so the whole
/// column silently becomes classes, the numbers included.
#[test]
fn a_typo_in_a_numeric_csv_column_turns_the_column_into_classes() {
    let program = "data d = csv(\"pts.csv\", header = true);\nprint d;\n";
    let dir = dir_with(&[("main.gd", program.as_bytes()), ("pts.csv", b"x,y\n1,2.5\n3,oops\n5,6.5\n7,2.5\n")]);
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_code(0, "a non-numeric cell in a numeric column");
    assert_eq!(run.stdout, "[[1.0, 0.0], [3.0, 1.0], [5.0, 2.0], [7.0, 0.0]]\n", "y is read as the classes 2.5 → 0, oops → 1, 6.5 → 2");
}

#[test]
fn run_reports_an_npy_file_of_an_unsupported_dtype() {
    let complex = npy("<c16", &[2], &[0; 32]);
    let run = bad_data(r#"data d = npy("z.npy");"#, &[("z.npy", &complex)], "E081", "a complex .npy");
    assert!(run.stderr.contains("z.npy: has dtype \"<c16\", which gradc does not read"), "{}", run.stderr);
    let big_endian = npy(">f8", &[1], &[0; 8]);
    let run = bad_data(r#"data d = npy("z.npy");"#, &[("z.npy", &big_endian)], "E081", "a big-endian .npy");
    assert!(run.stderr.contains("big-endian"), "{}", run.stderr);
    let strings = npy("<U5", &[1], &[0; 20]);
    bad_data(r#"data d = npy("z.npy");"#, &[("z.npy", &strings)], "E081", "a .npy of strings");
}

#[test]
fn run_reports_a_truncated_npy_file() {
    let truncated = npy("<f8", &[4], &f64s(&[1.0, 2.0])[..12]);
    let run = bad_data(r#"data d = npy("x.npy");"#, &[("x.npy", &truncated)], "E081", "a truncated .npy");
    assert!(run.stderr.contains("x.npy: is truncated: its header describes 32 bytes of data"), "{}", run.stderr);
    // Cut inside the header, or not a .npy file at all.
    let header_only = &npy("<f8", &[4], &[])[..30];
    bad_data(r#"data d = npy("x.npy");"#, &[("x.npy", header_only)], "E081", "a .npy cut inside its header");
    bad_data(r#"data d = npy("x.npy");"#, &[("x.npy", b"x,y\n1,2\n")], "E081", "a CSV named .npy");
}

#[test]
fn good_npy_files_run() {
    let program = "data d = npy(\"x.npy\");\nprint d;\n";
    let dir = dir_with(&[("main.gd", program.as_bytes()), ("x.npy", &npy("<f8", &[2, 2], &f64s(&[1.0, 2.0, 3.0, 4.5])))]);
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_code(0, "a good .npy");
    assert_eq!(run.stdout, "[[1.0, 2.0], [3.0, 4.5]]\n");
}

// ---------------------------------------------------------------------------------------
// Known bugs (in files other than this one): each test fails today.

/// Indexing a weakly typed tensor (an unannotated float or integer literal, or a `zeros`)
/// makes the checker wrap the index in a conversion forever (compiler/src/check/expr.rs,
/// `coerce` of `ExprKind::Index` under `default_weak`): `gradc check` allocates until the
/// system kills it.
#[test]
fn indexing_a_literal_does_not_exhaust_memory() {
    let program = "fn first() -> f64 { let a = [1.0, 2.0]; a[0] }\nprint first(), [3, 4][1];\n";
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    let run = gradc_limited(dir.path(), &["run", "main.gd"], 2_000_000, 60).expect("gradc ran for a minute");
    run.expect_code(0, "indexing a literal");
    assert_eq!(run.stdout, "1.0 4\n");
}

/// An `f32` param is initialised through an `f64` buffer: the memory check uses the `f64`
/// size, and the message names `f64` (src/run/init.rs, `param`). An `f32` param between a
/// quarter and half of the machine's memory is refused though it would fit.
#[test]
fn a_too_large_f32_param_is_reported_as_f32() {
    let program = "param e: f32[131072, 131072] = zeros();\nprint e[0, 0];\n";
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    let run = gradc(dir.path(), &["run", "main.gd"]);
    run.expect_error("E093", "a too-large f32 param");
    assert!(run.stderr.contains("f32[131072, 131072] tensor needs 68719476736 bytes"), "{}", run.stderr);
}

/// The messages of E094 and E095 say the same thing twice (src/run/mod.rs wraps the
/// runtime's message, which already names the operation and the path).
#[test]
fn save_and_load_errors_name_the_path_once() {
    let dir = dir_with(&[("save.gd", b"param w: f64 = 1.0;\nsave \"no/p.safetensors\";\n"), ("load.gd", b"param w: f64 = 1.0;\nload \"p.safetensors\";\n")]);
    for (file, code) in [("save.gd", "E094"), ("load.gd", "E095")] {
        let run = gradc(dir.path(), &["run", file]);
        run.expect_error(code, file);
        let first = run.stderr.lines().next().unwrap_or_default();
        assert_eq!(first.matches("p.safetensors").count(), 1, "{first}");
    }
}

/// A param whose shape is over the element limit (E046) is then treated as an `f64` scalar,
/// so every use of it reports a second, spurious error.
#[test]
fn a_param_over_the_element_limit_reports_one_error() {
    let dir = dir_with(&[("main.gd", b"param e: f32[50000, 2000000] = zeros();\nprint e[0, 0];\n")]);
    let run = gradc(dir.path(), &["check", "main.gd"]);
    run.expect_error("E046", "a param over the element limit");
    assert!(run.stderr.contains("error: 1 error found"), "{}", run.stderr);
}

#[test]
fn a_loop_bound_may_use_an_outer_loop_variable() {
    // The check fixture runs too: triangular loops and a slice that grows with the loop
    // variable, each unrolled iteration checked with `i` known. 0 + (1+2+3) + (4+6) + 9 = 25;
    // the prefix sums of [1, 2, 3, 4] are 1, 3, 6, 10, each added twice: 40.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check/ok/pending_fixed_loop_variable_range_bound.gd");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = gradc(dir.path(), &["run", fixture.to_str().expect("a UTF-8 path")]);
    run.expect_code(0, "triangular loops");
    assert_eq!(run.stdout, "25.0 40.0\n");
}

#[test]
fn a_shape_that_depends_on_the_loop_variable_is_checked_per_iteration() {
    // `x[0:i]` is `f64[2]` for i = 2 only: the error is for i = 3 and says so.
    let program = "fn f(x: f64[4]) -> f64 {\n    let mut acc: f64 = 0.0;\n    for i in 2..4 {\n        let y: f64[2] = x[0:i];\n        acc = acc + sum(y);\n    }\n    acc\n}\nprint f([1.0, 2.0, 3.0, 4.0]);\n";
    let dir = dir_with(&[("main.gd", program.as_bytes())]);
    let run = gradc(dir.path(), &["check", "main.gd"]);
    run.expect_error("E040", "a slice whose length varies with the loop");
    assert!(run.stderr.contains("found `f64[3]`"), "{}", run.stderr);
    assert!(run.stderr.contains("where `i` = 3"), "{}", run.stderr);
    assert!(run.stderr.contains("error: 1 error found"), "reported once, not per iteration:\n{}", run.stderr);
}
