//! `gradc repl` driven as a script drives it: lines piped into stdin, values read from stdout,
//! diagnostics from stderr (LANGUAGE.md §12). Every command of §12, errors and the session
//! going on after them, `let` persistence, items, `:load`, and the derivative printer's
//! output read back as gd and evaluated.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// What one session gave.
struct Session {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `gradc repl` in the repository root (so `examples/…` paths resolve) with `input`.
fn repl(input: &str) -> Session {
    repl_in(Path::new(env!("CARGO_MANIFEST_DIR")), input)
}

fn repl_in(dir: &Path, input: &str) -> Session {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .arg("repl")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gradc binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let text = input.to_string();
    // Written from a thread: a long session's output must be read while it is written.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().expect("gradc repl finishes");
    writer.join().expect("the writer finishes");
    let s = Session { code: out.status.code(), stdout: String::from_utf8(out.stdout).expect("UTF-8"), stderr: String::from_utf8(out.stderr).expect("UTF-8") };
    assert_eq!(s.code, Some(0), "the session ends with status 0\n--- stdout\n{}\n--- stderr\n{}", s.stdout, s.stderr);
    assert!(!s.stderr.contains("panicked"), "gradc panicked:\n{}", s.stderr);
    s
}

/// The stdout lines of a session whose lines must all succeed.
fn clean(input: &str) -> Vec<String> {
    let s = repl(input);
    assert!(s.stderr.is_empty(), "unexpected diagnostics for\n{input}\n--- stderr\n{}", s.stderr);
    s.stdout.lines().map(str::to_string).collect()
}

#[test]
fn the_examples_of_language_md_12() {
    let s = repl(
        "fn f(x: f64) -> f64 { x * x + 1 }\n\
         sin(x) * x where x = 2\n\
         :d sin(x) * x\n\
         :d x^3 * y wrt y\n\
         :type [1.0, 2.0] * x where x = 3\n\
         :help\n\
         :quit\n\
         print \"not reached\";\n",
    );
    let lines: Vec<&str> = s.stdout.lines().collect();
    assert_eq!(lines[0], format!("{:?}", 2f64.sin() * 2.0));
    assert_eq!(lines[1], "cos(x) * x + sin(x)");
    assert_eq!(lines[2], "x^3");
    assert_eq!(lines[3], "f64[2]");
    assert!(s.stdout.contains(":taylor EXPR at VAR = POINT order K"), "{}", s.stdout);
    assert!(!s.stdout.contains("not reached"), ":quit ends the session");
}

#[test]
fn a_derivative_with_bindings_prints_its_value_too() {
    let lines = clean(":d sin(x) * x where x = 2\n");
    assert_eq!(lines, vec!["cos(x) * x + sin(x)".to_string(), format!("{:?}", 2f64.cos() * 2.0 + 2f64.sin())]);
}

/// The printed derivative is gd: evaluated at a point it gives the derivative's value there
/// (up to rounding: the display rewrites are exact in real arithmetic, not in IEEE).
#[test]
fn printed_derivatives_read_back_as_gd_with_the_same_value() {
    let cases = [
        ("sin(x) * x", "x"),
        ("x^3 * y", "y"),
        ("x^3 * y", "x"),
        ("exp(sin(x)) * cos(x)", "x"),
        ("log(1 + x^2) - 0.5 * exp(-x^2)", "x"),
        ("tanh(x * y) / (1 + y^2)", "y"),
        ("sqrt(x^2 + y^2)", "x"),
        ("sigmoid(3 * x - y) * relu(x)", "x"),
        ("-(x * -2.5) + 1 / x", "x"),
        ("exp(x) * exp(x) * exp(x) + sin(exp(x) * y)", "x"),
        ("pow(x, y)", "y"),
        ("max(x, y) * x", "x"),
        ("(x - 3)^3 * exp(-x)", "x"),
        ("x^-2 + y^-1 * x", "x"),
        ("min(x * y, x - y) + max(x, 1.0)", "x"),
        ("-x^2 * y - (y - x) / (x * y)", "x"),
        // A large shared term: bound by `let`.
        ("tan(x) * sqrt(y * y + x)", "x"),
    ];
    let at = "where x = 0.7, y = -1.3";
    let mut input = String::new();
    for (e, v) in cases {
        input += &format!(":d {e} wrt {v}\n:d {e} wrt {v} {at}\n");
    }
    let lines = clean(&input);
    assert_eq!(lines.len(), 3 * cases.len(), "{lines:#?}");
    // Each printed expression, evaluated where the value was taken.
    let mut again = String::new();
    for k in 0..cases.len() {
        assert_eq!(lines[3 * k], lines[3 * k + 1], "the same expression with and without `where`");
        again += &format!("{} {at}\n", lines[3 * k]);
    }
    let values = clean(&again);
    assert!(lines.iter().any(|l| l.starts_with("{ let t1 = ")), "a shared term gets a `let`: {lines:#?}");
    for (k, (e, v)) in cases.iter().enumerate() {
        let want: f64 = lines[3 * k + 2].parse().expect("a number");
        let got: f64 = values[k].parse().expect("a number");
        assert!((want - got).abs() <= 1e-12 * want.abs().max(1.0), "d/d{v} {e} printed as `{}`: {got} read back, {want} evaluated", lines[3 * k]);
    }
}

#[test]
fn the_printer_drops_display_identities_and_parenthesises_by_precedence() {
    let lines = clean(":d 3 * x + 1\n:d x * x\n:d -x\n:d (x + 1) * (x - 1)\n:d x / (1 + x)\n:d x^2 wrt x where x = [1.0, 2.0]\n");
    assert_eq!(lines[0], "3.0");
    assert_eq!(lines[1], "2 * x");
    assert_eq!(lines[2], "-1.0");
    assert_eq!(lines[3], "x + 1 + (x - 1)");
    assert!(!lines[4].contains("* 1") && !lines[4].contains("+ 0"), "{}", lines[4]);
    // A vector variable: the Jacobian of the elementwise square.
    assert!(lines[5].contains('x'), "{lines:?}");
}

#[test]
fn lets_persist_and_where_belongs_to_the_line() {
    let lines = clean("let a = 3.0;\nlet b = a * 2\na + b\nlet (p, q) = (1.0, [2.0, 3.0]);\nq * p + a\nx * a where x = 2, y = x + 1\ny where y = 5.0\n");
    assert_eq!(lines, vec!["9.0", "[5.0, 6.0]", "6.0", "5.0"]);
}

#[test]
fn let_mut_and_assignment_lines_are_block_statements() {
    let lines = clean("let mut s = 0.0;\nfor i in 0..4 { s = s + f64(i); }\ns\ns = s * 10\ns\n");
    assert_eq!(lines, vec!["6.0", "60.0"]);
}

#[test]
fn items_join_the_session_and_a_redeclaration_replaces() {
    let lines = clean(
        "use nn;\n\
         const N = 3;\n\
         param w: f64[N] = [1, 2, 3];\n\
         fn f(x: f64) -> f64 { x * 2 }\n\
         f(w[1])\n\
         fn f(x: f64) -> f64 { x * 10 }\n\
         f(w[1])\n\
         print \"sum\", sum(w), max(softmax(w)) > 0.5;\n\
         fn g = grad(|v: f64[3]| sum(v * w));\n\
         g(zeros([3]))\n\
         :type nn::softmax(w)\n\
         :type f\n\
         :type g\n",
    );
    assert_eq!(lines, vec!["4.0", "20.0", "sum 6.0 true", "[1.0, 2.0, 3.0]", "f64[3]", "fn f(x: f64) -> f64", "fn g = grad(|v: f64[3]| sum(v * w));"]);
}

#[test]
fn params_keep_their_values_across_lines_and_train_changes_them() {
    let lines = clean(
        "param w: f64 = 0.0;\n\
         fn loss(t: f64) -> f64 { (w - t) ^ 2 }\n\
         train loss(2.0) { optimizer = sgd(lr = 0.25), steps = 50 }\n\
         abs(w - 2) < 1e-6\n\
         param w: f64 = 5.0;\n\
         w\n",
    );
    assert!(lines[0].starts_with("train loss: 50 steps"), "{lines:?}");
    assert_eq!(lines[1..], ["true", "5.0"]);
}

#[test]
fn load_brings_in_a_files_items_and_runs_its_statements() {
    let s = repl(":load examples/linear.gd\nmodel([0.0, 1.0])\n:type loss(pts[:, 0], pts[:, 1])\n:d model([x])[0] * b wrt x\n");
    let lines: Vec<&str> = s.stdout.lines().collect();
    assert!(lines[0].starts_with("train loss: 500 steps"), "{}", s.stdout);
    assert!(lines[1].starts_with("w 3.0"), "{}", s.stdout);
    let v: Vec<f64> = lines[2].trim_matches(['[', ']']).split(", ").map(|x| x.parse().expect("a number")).collect();
    assert!((v[0] + 1.0).abs() < 0.05 && (v[1] - 2.0).abs() < 0.05, "model(0), model(1) after training: {v:?}");
    assert_eq!(lines[3], "f64");
    assert_eq!(lines[4], "b * w");
    assert!(s.stderr.is_empty(), "{}", s.stderr);
}

#[test]
fn ir_and_clif_show_what_gradc_ir_shows() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let src = "fn f(x: f64[4]) -> f64 { sum(tanh(x) * x) }\n";
    std::fs::write(dir.path().join("f.gd"), src).expect("write");
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_gradc")).args(args).current_dir(dir.path()).output().expect("runs");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let ir = cli(&["ir", "f.gd", "--fn", "f"]);
    let clif = cli(&["ir", "f.gd", "--fn", "f", "--clif"]);
    let s = repl_in(dir.path(), &format!("{src}:ir f\n:clif f\n"));
    assert_eq!(s.stdout, format!("{ir}{clif}"));
    let s = repl(":ir nothing\n");
    assert!(s.stderr.contains("[E100]") && s.stderr.contains("no function `nothing`"), "{}", s.stderr);
}

#[test]
fn taylor_goes_through_the_operator() {
    let s = repl(":taylor exp(sin(t)) at t = 0 order 5\n1.0 + 1\n");
    assert_eq!(s.stderr, "");
    assert_eq!(s.stdout, "[1.0, 1.0, 0.5, 0.0, -0.125, -0.06666666666666667]\n2.0\n");
}

/// ORACLES.md T1: `exp(sin t)` at 0, normalised coefficients 1, 1, 1/2, 0, −1/8, −1/15, −1/240.
#[test]
fn taylor_of_exp_sin_matches_oracle_t1() {
    let lines = clean(":taylor exp(sin(t)) at t = 0 order 6\n");
    let got: Vec<f64> = lines[0].trim_matches(['[', ']']).split(", ").map(|x| x.parse().expect("a number")).collect();
    let want = [1.0, 1.0, 0.5, 0.0, -1.0 / 8.0, -1.0 / 15.0, -1.0 / 240.0];
    assert_eq!(got.len(), want.len(), "{lines:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{got:?} against {want:?}");
    }
}

#[test]
fn errors_are_diagnostics_against_the_line_and_the_session_goes_on() {
    let s = repl(
        ":frobnicate\n\
         :tyep x\n\
         :\n\
         1 +\n\
         sin(x)\n\
         [1.0, 2.0] + [1.0, 2.0, 3.0]\n\
         :d sin(x) * y\n\
         :d sin(x) wrt z\n\
         :d 1 + 2\n\
         :taylor exp(t)\n\
         :load no/such/file.gd\n\
         let a = undefined_thing;\n\
         fn broken(x: f64) -> f64 { x + true }\n\
         assert 1 > 2;\n\
         x where\n\
         [1, 2][5 - 4 * 1 + 7 - 7 + 2]\n\
         1.0 + 1\n",
    );
    for code in ["E100", "E011", "E020", "E040", "E032", "E044", "E092"] {
        assert!(s.stderr.contains(&format!("[{code}]")), "{code} missing:\n{}", s.stderr);
    }
    assert!(s.stderr.contains("did you mean `:type`?"), "{}", s.stderr);
    assert!(s.stderr.contains("<repl:5>"), "diagnostics name the line they point into:\n{}", s.stderr);
    assert!(s.stderr.contains(" 1 │ sin(x)"), "and show the line as typed:\n{}", s.stderr);
    assert!(!s.stderr.contains("__repl"), "nothing the user did not type shows:\n{}", s.stderr);
    assert!(s.stdout.ends_with("2.0\n"), "the session goes on: {}", s.stdout);
    // Nothing that failed joined the session.
    let s = repl("let a = undefined_thing;\nlet a = 1.0;\na\n");
    assert_eq!(s.stdout, "1.0\n");
}

#[test]
fn diagnostics_match_their_snapshot() {
    let s = repl("1 +\n:d sin(x) * y\n:frob\n[1.0, 2.0] + [1.0, 2.0, 3.0]\n");
    insta::assert_snapshot!(s.stderr);
}

#[test]
fn unfinished_brackets_continue_on_the_next_line() {
    let lines = clean("fn f(x: f64) -> f64 {\n  let y = x * 2;\n  y + 1\n}\nf(1)\n[1.0,\n 2.0]\n");
    assert_eq!(lines, vec!["3.0", "[1.0, 2.0]"]);
}

#[test]
fn end_of_input_without_quit_ends_the_session() {
    let s = repl("1.0 + 1");
    assert_eq!(s.stdout, "2.0\n");
    let s = repl("");
    assert_eq!(s.stdout, "");
}

/// The VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Every line compiles a new kernel; each is freed with its line, so 1,000 evaluations do
/// not grow the process without bound (DESIGN.md §4: a dropped `JITModule` would leak).
#[test]
fn a_long_session_runs_in_bounded_memory() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradc")).arg("repl").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("runs");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut rss = Vec::new();
    let mut line = String::new();
    for k in 0..1000 {
        // A different constant each time: a new graph, so a new kernel.
        writeln!(stdin, "sum(tanh(x) * x + {k}.5) where x = [1.0, 2.0, 3.0, 4.0, 5.0]").expect("write");
        stdin.flush().expect("flush");
        line.clear();
        stdout.read_line(&mut line).expect("read");
        assert!(!line.is_empty(), "the session ended early at line {k}");
        if k == 99 || k == 999 {
            rss.push(rss_kib(pid));
        }
    }
    drop(stdin);
    assert!(child.wait().expect("exits").success());
    if let [Some(at100), Some(at1000)] = rss[..] {
        println!("gradc repl RSS after 100 evaluations: {at100} KiB; after 1000: {at1000} KiB");
        assert!(at1000 < at100 + 32 * 1024, "900 more evaluations grew the REPL by {} KiB", at1000 - at100);
    }
}
