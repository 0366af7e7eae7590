//! Every program in `examples/` runs, and its `assert`s hold; its output is snapshotted.

use std::path::{Path, PathBuf};

use gradc::compiler::check::check_file;
use gradc::run::{run, RunOptions};

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("examples")
        .expect("examples/ exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "gd"))
        .collect();
    v.sort();
    v
}

/// The output with the times of `train` summary lines replaced by `…`, and floats rounded
/// to 6 significant digits: the last bits of `exp` and `log` come from the system's libm and
/// may differ between machines (the examples' `assert`s are the real checks).
fn without_times(stdout: &str) -> String {
    stdout
        .lines()
        .map(|l| match (l.starts_with("train "), l.find(" steps in "), l.find(", final loss")) {
            (true, Some(a), Some(b)) => format!("{} steps in …{}", &l[..a], &l[b..]),
            _ => l.to_string(),
        })
        .map(|l| round_floats(&l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn round_floats(line: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.parse::<f64>() {
            Ok(v) if word.contains('.') || word.contains('e') => out.push_str(&format!("{v:.5e}")),
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in line.chars() {
        if " ,[]()".contains(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_example_runs_and_its_asserts_hold() {
    let mut failures = Vec::new();
    for path in examples() {
        let checked = check_file(&path).expect("readable");
        assert!(checked.is_ok(), "{} does not check:\n{}", path.display(), checked.render(false));
        let mut out = Vec::new();
        let options = RunOptions { quiet: true, ..RunOptions::default() };
        let result = run(&checked, &options, &mut out);
        let stdout = String::from_utf8(out).expect("utf-8 output");
        match result {
            // Training prints its wall time: snapshot everything else.
            Ok(()) => insta::assert_snapshot!(format!("example_{}", name(&path).trim_end_matches(".gd")), without_times(&stdout)),
            Err(d) => failures.push(format!("{} failed:\n{stdout}{}", path.display(), d.render(&checked.sources, false))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The examples that do not train print the same (to 6 digits) on the JIT as on the
/// interpreter. (Training amplifies last-bit differences of GEMM sums over thousands of
/// steps; the training examples' `assert`s hold on both, checked by running them above on the
/// default backend and here on the interpreter.)
#[test]
fn the_backends_agree_on_every_example() {
    for path in examples() {
        let checked = check_file(&path).expect("readable");
        let trains = checked.program.stmts.iter().any(|s| matches!(s, gradc::compiler::check::hir::Stmt::Train(_)));
        let mut outputs = Vec::new();
        for backend in [gradc::run::Backend::Jit, gradc::run::Backend::Interp] {
            let options = RunOptions { quiet: true, backend, ..RunOptions::default() };
            let mut out = Vec::new();
            if let Err(d) = run(&checked, &options, &mut out) {
                panic!("{} on {backend:?}:\n{}", path.display(), d.render(&checked.sources, false));
            }
            outputs.push(without_times(&String::from_utf8(out).unwrap()));
        }
        if !trains {
            assert_eq!(outputs[0], outputs[1], "{}: the JIT and the interpreter print differently", path.display());
        }
    }
}
