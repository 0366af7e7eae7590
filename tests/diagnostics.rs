//! The diagnostic corpus, snapshotted (as Gleam's compiler does).
//!
//! Every `tests/fixtures/errors/**/*.gd` is a malformed program a user could really write;
//! files under a `helpers/` folder are not fixtures but files that fixtures `use`, and
//! `data/` holds the bad data files the `data_*` fixtures read. For each fixture this test
//! runs the checker, asserts that it reports at least one diagnostic, and snapshots the
//! source with the rendered diagnostics (no colour) in `tests/snapshots/`. A few fixtures
//! cannot be committed as text (a file that is not UTF-8): they are written at test time
//! (see [`GENERATED`]).
//!
//! The fixtures under `run/` ([`RUN_FIXTURES`]) are well-formed programs that fail while they
//! run: each must check clean, then `gradc::run::run` must stop it with a run-time diagnostic.
//! Their snapshots hold the source, what the program printed before it stopped, and that
//! diagnostic. Their `save` and `load` paths are relative to the working directory, which
//! for the tests is the package root; `run/data/make_params.gd` writes the checkpoint that
//! the `load_*` ones read.
//!
//! Review a change of wording with `cargo insta review`, or accept all of them with
//! `INSTA_UPDATE=always cargo test --test diagnostics` (then read the diff).
//!
//! The other tests keep the index of codes in step: every code of `codes::ALL` is reported
//! by some fixture (or listed in [`UNREACHABLE`] with the reason) and has a section in
//! `docs/errors.md`, whose examples are fixtures with diagnostics copied from their snapshots
//! (after a change of wording, paste the new text there too); no snapshot outlives its
//! fixture.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use gradc::compiler::check::check_file;
use gradc::compiler::diag::codes;
use gradc::run::RunOptions;

const FIXTURES: &str = "tests/fixtures/errors";

/// The folder of the fixtures that are run rather than only checked.
const RUN_FIXTURES: &str = "tests/fixtures/errors/run";

/// Codes no program can trigger, with the reason. Keep it empty where possible: a code
/// listed here is not tested.
const UNREACHABLE: &[(&str, &str)] = &[
    ("E097", "Ctrl-C is a signal, not a program; tests/train.rs sends it"),
    ("E098", "reserved: every construct that checks runs (a `train` of a lambda or a derivative operator ran last)"),
    ("E099", "a bug in gradc; no program should trigger it"),
    ("E100", "REPL lines only; tests/repl.rs reports it"),
];

/// Fixtures written at test time (into a temporary directory): name and bytes.
const GENERATED: &[(&str, &[u8])] = &[
    // An editor saved the file as Latin-1: `é` is the single byte 0xE9.
    ("lex_invalid_utf8", b"// the label was typed in an old editor\nprint \"caf\xe9\", 1.0;\n"),
];

/// The name `generated` fixtures are shown under, in place of the temporary directory.
const GENERATED_DIR: &str = "<generated>";

/// Every fixture under `dir`, sorted, without `helpers/` and `data/` folders.
fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("the fixtures folder exists").map(|e| e.expect("a readable entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name != "helpers" && name != "data" {
                out.extend(fixtures(&path));
            }
        } else if path.extension().is_some_and(|e| e == "gd") {
            out.push(path);
        }
    }
    out
}

/// The snapshot name of a fixture: its path below the fixtures folder, without `.gd`,
/// folders joined by `__`.
fn snapshot_name(path: &Path) -> String {
    let rel = path.strip_prefix(FIXTURES).unwrap_or(path).with_extension("");
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("__")
}

/// One checked fixture: the text to snapshot and the codes it reported.
struct Outcome {
    snapshot: String,
    codes: Vec<&'static str>,
}

/// Checks one file (given by a path relative to the package root, so that rendered paths are
/// stable) and builds its snapshot: the source, then the diagnostics. `replace` swaps a
/// machine-dependent directory for a fixed name. A fixture under [`RUN_FIXTURES`] is also run
/// (see [`run_fixture`]).
fn run(path: &Path, replace: Option<(&str, &str)>) -> Outcome {
    let checked = check_file(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut shown = path.display().to_string();
    let (stdout, mut rendered, codes) = if path.starts_with(RUN_FIXTURES) {
        let (stdout, rendered, code) = run_fixture(path, &checked);
        (Some(stdout), rendered, vec![code])
    } else {
        (None, checked.render(false), checked.diags.iter().map(|d| d.code.0).collect())
    };
    if let Some((from, to)) = replace {
        rendered = rendered.replace(from, to);
        shown = shown.replace(from, to);
    }
    // Absolute paths would make the snapshots depend on the machine.
    let cwd = std::env::current_dir().expect("a working directory").display().to_string();
    assert!(!rendered.contains(&cwd), "{shown}: the diagnostics contain an absolute path:\n{rendered}");
    let source = String::from_utf8_lossy(&std::fs::read(path).expect("readable")).into_owned();
    // ariadne pads lines with spaces; editors strip them, so the snapshots do not keep them.
    let strip = |s: &str| s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    let stdout = match stdout {
        None => String::new(),
        Some(o) if o.is_empty() => "--- stdout (nothing printed)\n".to_string(),
        Some(o) => format!("--- stdout\n{}\n", strip(&o)),
    };
    let snapshot = format!("--- {shown}\n{}\n{stdout}--- diagnostics\n{}\n", strip(&source), strip(&rendered));
    Outcome { snapshot, codes }
}

/// Runs a fixture of [`RUN_FIXTURES`], which must check clean and then fail: what it printed,
/// the rendered run-time diagnostic, and its code.
fn run_fixture(path: &Path, checked: &gradc::compiler::check::Checked) -> (String, String, &'static str) {
    assert!(checked.is_ok(), "{}: a run fixture must check clean, but:\n{}", path.display(), checked.render(false));
    let mut stdout = Vec::new();
    let result = gradc::run::run(checked, &RunOptions::default(), &mut stdout);
    let stdout = String::from_utf8(stdout).expect("the program prints UTF-8");
    let Err(d) = result else {
        panic!("{}: a run fixture must stop with an error, but it ran to the end; it printed:\n{stdout}", path.display());
    };
    // The memory limit is half this machine's memory (E093): show it by its meaning.
    let limit = format!("the limit of {} bytes", gradc::runtime::data::default_max_bytes());
    let rendered = d.render(&checked.sources, false).replace(&limit, "the limit of <limit> bytes");
    (stdout, rendered, d.code.0)
}

/// Writes the generated fixtures into a fresh directory and returns it with their paths.
fn generated() -> (PathBuf, Vec<(String, PathBuf)>) {
    // A directory per call: tests run in parallel, and each writes its own copy.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("diagnostics-generated-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the temporary directory can be created");
    let files = GENERATED
        .iter()
        .map(|(name, bytes)| {
            let path = dir.join(format!("{name}.gd"));
            std::fs::write(&path, bytes).expect("the generated fixture can be written");
            (name.to_string(), path)
        })
        .collect();
    (dir, files)
}

/// Every fixture, committed and generated: snapshot name and outcome.
fn all_outcomes() -> Vec<(String, Result<Outcome, String>)> {
    let mut out = Vec::new();
    let mut guarded = |name: String, f: &dyn Fn() -> Outcome| {
        let r = catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
            e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
        });
        out.push((name, r));
    };
    for path in fixtures(Path::new(FIXTURES)) {
        guarded(snapshot_name(&path), &|| run(&path, None));
    }
    let (dir, files) = generated();
    let shown = dir.display().to_string();
    for (name, path) in files {
        guarded(name, &|| run(&path, Some((&shown, GENERATED_DIR))));
    }
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn every_fixture_reports_an_error_and_matches_its_snapshot() {
    let outcomes = all_outcomes();
    assert!(outcomes.len() >= 45, "the corpus has only {} fixtures", outcomes.len());
    let mut failures = Vec::new();
    for (name, outcome) in outcomes {
        let outcome = match outcome {
            Ok(o) => o,
            Err(panic) => {
                failures.push(format!("{name}: {panic}"));
                continue;
            }
        };
        if outcome.codes.is_empty() {
            failures.push(format!("{name}: no diagnostic (every fixture is a malformed program)"));
            continue;
        }
        // Compare every snapshot before failing, so one run shows (and with INSTA_UPDATE
        // writes) all the changes.
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut settings = insta::Settings::clone_current();
            settings.set_omit_expression(true);
            settings.set_description(format!("{name}: codes {}", outcome.codes.join(", ")));
            settings.bind(|| insta::assert_snapshot!(name.as_str(), outcome.snapshot));
        }));
        if result.is_err() {
            failures.push(format!("{name}: the snapshot differs (run `cargo insta review`)"));
        }
    }
    assert!(failures.is_empty(), "{} fixture(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_code_is_reported_by_a_fixture_or_listed_as_unreachable() {
    let mut covered = BTreeSet::new();
    for (name, outcome) in all_outcomes() {
        let outcome = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
        covered.extend(outcome.codes);
    }
    let all: BTreeSet<&str> = codes::ALL.iter().map(|(c, _)| c.0).collect();
    let mut problems = Vec::new();
    for (code, title) in codes::ALL {
        let unreachable = UNREACHABLE.iter().any(|(c, _)| *c == code.0);
        match (covered.contains(code.0), unreachable) {
            (false, false) => problems.push(format!("{code} ({title}) is reported by no fixture: add one to {FIXTURES}, or list it in UNREACHABLE with the reason")),
            (true, true) => problems.push(format!("{code} is listed as unreachable, but a fixture reports it")),
            _ => {}
        }
    }
    for (code, _) in UNREACHABLE {
        if !all.contains(code) {
            problems.push(format!("{code} is listed as unreachable but is not a code"));
        }
    }
    for code in &covered {
        if !all.contains(code) {
            problems.push(format!("{code} is reported but missing from codes::ALL"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_snapshot_belongs_to_a_fixture() {
    let mut names: BTreeSet<String> = fixtures(Path::new(FIXTURES)).iter().map(|p| snapshot_name(p)).collect();
    names.extend(GENERATED.iter().map(|(n, _)| n.to_string()));
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir("tests/snapshots").expect("tests/snapshots exists") {
        let file = entry.expect("a readable entry").file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_prefix("diagnostics__").and_then(|f| f.strip_suffix(".snap")) {
            if !names.contains(name) {
                orphans.push(file);
            }
        }
    }
    assert!(orphans.is_empty(), "snapshots of fixtures that no longer exist (delete them): {orphans:?}");
}

/// The codes `docs/errors.md` documents: its `## E0xx: title` headings.
fn documented() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("docs/errors.md").expect("docs/errors.md exists");
    text.lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter_map(|h| h.split_once(": "))
        .filter(|(c, _)| c.len() == 4 && c.starts_with('E') && c[1..].chars().all(|ch| ch.is_ascii_digit()))
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect()
}

#[test]
fn every_code_is_documented_in_docs_errors_md() {
    let docs = documented();
    let mut problems = Vec::new();
    for (code, title) in codes::ALL {
        match docs.iter().filter(|(c, _)| c == code.0).collect::<Vec<_>>().as_slice() {
            [] => problems.push(format!("{code} ({title}) has no `## {code}: …` section in docs/errors.md")),
            [(_, t)] if t != title => problems.push(format!("{code}: docs/errors.md titles it `{t}`, codes.rs `{title}`")),
            [_] => {}
            _ => problems.push(format!("{code} has several sections in docs/errors.md")),
        }
    }
    for (code, _) in &docs {
        if !codes::ALL.iter().any(|(c, _)| c.0 == code) {
            problems.push(format!("docs/errors.md documents {code}, which is not in codes::ALL"));
        }
    }
    // In the order of the index.
    let order: Vec<&str> = docs.iter().map(|(c, _)| c.as_str()).collect();
    let mut sorted = order.clone();
    sorted.sort();
    if order != sorted {
        problems.push("docs/errors.md lists the codes out of order".into());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A snapshot file's source and diagnostics sections.
fn read_snapshot(name: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(format!("tests/snapshots/diagnostics__{name}.snap")).ok()?;
    // insta's header (`---`, metadata, `---`), then `--- PATH`, the source, `--- diagnostics`.
    let body = text.splitn(3, "---\n").nth(2)?;
    let (source, diags) = body.split_once("\n--- diagnostics\n")?;
    let source = source.split_once('\n').map_or("", |(_, s)| s);
    // A run fixture's snapshot has the program's output between the two.
    let source = source.split_once("\n--- stdout").map_or(source, |(s, _)| s);
    Some((source.trim_end().to_string(), diags.trim_end().to_string()))
}

/// The examples of docs/errors.md are fixtures: each `Example (`….gd`)` line is followed by
/// a ```gd block with the fixture's source and a ```text block with some of the diagnostics
/// of its snapshot. This keeps the page in step when a message's wording changes.
#[test]
fn docs_errors_md_examples_match_the_snapshots() {
    let text = std::fs::read_to_string("docs/errors.md").expect("docs/errors.md exists");
    let mut lines = text.lines();
    let mut problems = Vec::new();
    let mut examples = 0;
    // The next fenced block of a language, as text.
    let block = |lines: &mut std::str::Lines, lang: &str| -> Option<String> {
        let fence = format!("```{lang}");
        lines.by_ref().find(|l| *l == fence)?;
        Some(lines.by_ref().take_while(|l| *l != "```").collect::<Vec<_>>().join("\n"))
    };
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("Example (") else { continue };
        examples += 1;
        let Some(name) = rest.split('`').nth(1).filter(|p| p.ends_with(".gd")).map(|p| snapshot_name(Path::new(p))) else {
            problems.push(format!("`{line}` names no fixture"));
            continue;
        };
        let Some((source, diags)) = read_snapshot(&name) else {
            problems.push(format!("{name}: no snapshot tests/snapshots/diagnostics__{name}.snap"));
            continue;
        };
        match block(&mut lines, "gd") {
            Some(s) if s.trim_end() == source => {}
            _ => problems.push(format!("{name}: the ```gd block of its example differs from the fixture; it should be:\n{source}")),
        }
        match block(&mut lines, "text") {
            Some(d) if !d.trim().is_empty() && diags.contains(d.trim_end()) => {}
            _ => problems.push(format!("{name}: the ```text block of its example is not in its snapshot; the snapshot's diagnostics are:\n{diags}")),
        }
    }
    // An unreachable code has no example.
    let reachable = codes::ALL.len() - UNREACHABLE.len();
    assert!(examples >= reachable, "docs/errors.md has {examples} examples for {reachable} codes that fixtures report");
    assert!(problems.is_empty(), "docs/errors.md is out of date:\n{}", problems.join("\n\n"));
}
