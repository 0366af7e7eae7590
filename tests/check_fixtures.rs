//! Valid programs check with no diagnostics: every `tests/fixtures/check/ok/*.gd` (the
//! complete programs of LANGUAGE.md, the benchmark programs, one fixture per derivative
//! operator and syntactic form, one per standard-library module) and every `examples/*.gd`.
//! And the standard library itself: each module checks when used, holds only documented
//! functions and constants, and has no name in common with another module.
//!
//! Each directory is checked as a whole and every failure is reported at once, with the
//! rendered diagnostics. `tests/fixtures/check/pending/` holds valid programs that the checker
//! still rejects (each names the bug in its header); they are not run here.

use std::path::{Path, PathBuf};

use gradc::compiler::check::{check_file, check_source};
use gradc::compiler::source::SourceMap;
use gradc::compiler::stdlib::{module_source, MODULES};
use gradc::compiler::syntax::{ast, parser};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.gd` files directly in `dir` (helper files live in subdirectories), sorted.
fn gd_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "gd"))
        .collect();
    files.sort();
    files
}

/// Checks one file; `Err` holds the report of a failure (diagnostics, a read error or a panic).
fn check_one(path: &Path) -> Result<(), String> {
    let result = std::panic::catch_unwind(|| check_file(path));
    match result {
        Ok(Ok(checked)) if checked.is_ok() => Ok(()),
        Ok(Ok(checked)) => Err(format!("{} diagnostic(s):\n{}", checked.diags.len(), checked.render(false))),
        Ok(Err(e)) => Err(format!("cannot read: {e}")),
        Err(_) => Err("the checker panicked".to_string()),
    }
}

/// Checks every program of `dir` and reports all failures together.
fn assert_dir_checks(dir: &Path, at_least: usize) {
    let files = gd_files(dir);
    assert!(files.len() >= at_least, "expected at least {at_least} programs in {}, found {}", dir.display(), files.len());
    let mut failures = Vec::new();
    for f in &files {
        if let Err(report) = check_one(f) {
            failures.push(format!("=== {}: {report}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} programs in {} do not check:\n\n{}",
        failures.len(),
        files.len(),
        dir.display(),
        failures.join("\n")
    );
    eprintln!("{} programs in {} check", files.len(), dir.display());
}

#[test]
fn fixtures_check() {
    assert_dir_checks(&root().join("tests/fixtures/check/ok"), 30);
}

#[test]
fn examples_check() {
    assert_dir_checks(&root().join("examples"), 5);
}

/// The programs that must be there: LANGUAGE.md's complete programs and the benchmarks.
/// (The §1 program is examples/linear.gd, checked with the examples.)
#[test]
fn required_fixtures_exist() {
    assert!(root().join("examples/linear.gd").is_file(), "examples/linear.gd is LANGUAGE.md §1");
    let ok = root().join("tests/fixtures/check/ok");
    let required = [
        "language_jvp_rules.gd",
        "language_train_options.gd",
        "bench_p1_elementwise.gd",
        "bench_p2_mlp.gd",
        "bench_p3_taylor.gd",
        "bench_p4_laplacian.gd",
        "bench_p5_compile.gd",
    ];
    let missing: Vec<&str> = required.iter().copied().filter(|f| !ok.join(f).is_file()).collect();
    assert!(missing.is_empty(), "missing fixtures: {missing:?}");
}

/// One parsed standard-library module.
struct Module {
    name: &'static str,
    text: &'static str,
    items: Vec<ast::Item>,
}

fn modules() -> Vec<Module> {
    MODULES
        .iter()
        .map(|&name| {
            let text = module_source(name).unwrap_or_else(|| panic!("module `{name}` is listed but has no source"));
            let mut sources = SourceMap::new();
            let id = sources.add(format!("<stdlib>/{name}.gd"), None, text.to_string());
            let (module, diags) = parser::parse(id, text);
            assert!(diags.is_empty(), "stdlib/{name}.gd does not parse:\n{}", gradc::compiler::diag::render_all(&diags, &sources, false));
            Module { name, text, items: module.items }
        })
        .collect()
}

/// The names a module defines: its functions and constants.
fn defined_names(m: &Module) -> Vec<String> {
    m.items
        .iter()
        .filter_map(|item| match &item.kind {
            ast::ItemKind::Fn(decl) => Some(decl.name.name.clone()),
            ast::ItemKind::Const { name, .. } => Some(name.name.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn each_stdlib_module_checks_when_used() {
    let mut failures = Vec::new();
    for m in modules() {
        // Used by a program, and on its own as a program.
        for (what, program) in [("used", format!("use {};\n", m.name)), ("alone", m.text.to_string())] {
            let checked = check_source(&format!("stdlib_{}_{what}.gd", m.name), &program, root());
            if !checked.is_ok() {
                failures.push(format!("=== `{}` ({what}):\n{}", m.name, checked.render(false)));
            }
        }
    }
    // All together: no clash between modules.
    let all: String = MODULES.iter().map(|m| format!("use {m};\n")).collect();
    let checked = check_source("stdlib_all_used.gd", &all, root());
    if !checked.is_ok() {
        failures.push(format!("=== all modules together:\n{}", checked.render(false)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stdlib_modules_hold_documented_functions_and_constants_only() {
    let mut problems = Vec::new();
    for m in modules() {
        if !m.text.trim_start().starts_with("//") {
            problems.push(format!("stdlib/{}.gd has no header comment", m.name));
        }
        for item in &m.items {
            if !matches!(item.kind, ast::ItemKind::Fn(_) | ast::ItemKind::Const { .. }) {
                problems.push(format!("stdlib/{}.gd holds an item other than `fn` and `const`: {:?}", m.name, item.kind));
            }
        }
        // Every top-level `fn` / `const` line follows a comment line.
        let lines: Vec<&str> = m.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("fn ") || line.starts_with("const ") {
                let documented = i > 0 && lines[i - 1].trim_start().starts_with("//");
                if !documented {
                    problems.push(format!("stdlib/{}.gd:{}: `{}` has no comment above it", m.name, i + 1, line.trim()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn stdlib_names_are_unique_across_modules() {
    let mut seen: Vec<(String, &'static str)> = Vec::new();
    let mut clashes = Vec::new();
    for m in modules() {
        for name in defined_names(&m) {
            if let Some((_, other)) = seen.iter().find(|(n, _)| *n == name) {
                clashes.push(format!("`{name}` is defined by both `{other}` and `{}`", m.name));
            }
            seen.push((name, m.name));
        }
    }
    assert!(clashes.is_empty(), "{}", clashes.join("\n"));
}

/// Each stdlib function is exercised by its fixture `stdlib_<module>.gd` (called, so that it is
/// instantiated and its body checked, not only name-checked).
#[test]
fn every_stdlib_function_is_exercised() {
    let ok = root().join("tests/fixtures/check/ok");
    let mut missing = Vec::new();
    for m in modules() {
        let fixture = ok.join(format!("stdlib_{}.gd", m.name));
        let text = std::fs::read_to_string(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
        for item in &m.items {
            if let ast::ItemKind::Fn(decl) = &item.kind {
                let name = &decl.name.name;
                if !text.contains(&format!("{name}(")) {
                    missing.push(format!("{}: `{}::{name}` is never called", fixture.display(), m.name));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
