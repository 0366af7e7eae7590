//! `rgrad` and reverse derivative ascent (`rda`) as programs: ORACLES.md R1–R3 (asserts in
//! tests/fixtures/rda/oracles.gd), R4 (lookup tables on Iris), and a killed `rda` run resumed
//! from its checkpoint ending with the params of an uninterrupted one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gradc::compiler::check::check_file;
use gradc::run::{run, RunOptions};
use gradc::runtime::safetensors_io;

/// Runs a program in-process; its stdout.
fn run_program(path: &Path) -> String {
    let checked = check_file(path).expect("readable");
    assert!(checked.is_ok(), "{}", checked.render(false));
    let mut out = Vec::new();
    let options = RunOptions { quiet: true, ..RunOptions::default() };
    if let Err(d) = run(&checked, &options, &mut out) {
        panic!("{}:\n{}", path.display(), d.render(&checked.sources, false));
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn oracles_r1_to_r3_hold_as_a_program() {
    let out = run_program(Path::new("tests/fixtures/rda/oracles.gd"));
    // R3's step saw one error bit.
    assert!(out.contains("train r3_errors: 1 step in ") && out.contains("final loss 1.0000"), "{out}");
}

/// `(two-class correct of 50, three-class correct of 75)` for the R4 program on `csv`.
fn iris_lut(csv: &str) -> (u32, u32) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("tests/fixtures/rda/iris_lut.gd", dir.path().join("iris_lut.gd")).unwrap();
    std::fs::write(dir.path().join("iris.csv"), csv).unwrap();
    let out = run_program(&dir.path().join("iris_lut.gd"));
    let count = |label: &str| -> u32 {
        let line = out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no `{label}` in\n{out}"));
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    (count("two-class correct"), count("three-class correct"))
}

/// ORACLES.md R4. The published figures (98.0%, 73.3%) come from UCI's `iris.data`, which
/// differs from Fisher's table (examples/iris.csv, as scikit-learn ships it) in two setosa
/// rows, 35 and 38, both in the test split; on Fisher's table the three-class figure is
/// 56/75 = 74.7%. Both are asserted.
#[test]
fn r4_lookup_tables_on_iris_reach_the_published_accuracy() {
    let fisher = std::fs::read_to_string("examples/iris.csv").unwrap();
    let pct = |n: u32, of: u32| (1000.0 * n as f64 / of as f64).round() / 10.0;
    let (two, three) = iris_lut(&fisher);
    assert_eq!((pct(two, 50), pct(three, 75)), (98.0, 74.7), "Fisher's table: {two}/50, {three}/75");
    // UCI's two differences (1-based data rows after the header).
    let mut lines: Vec<String> = fisher.lines().map(str::to_string).collect();
    assert_eq!(lines[35], "4.9,3.1,1.5,0.2,setosa");
    assert_eq!(lines[38], "4.9,3.6,1.4,0.1,setosa");
    lines[35] = "4.9,3.1,1.5,0.1,setosa".into();
    lines[38] = "4.9,3.1,1.5,0.1,setosa".into();
    let (two, three) = iris_lut(&(lines.join("\n") + "\n"));
    assert_eq!((pct(two, 50), pct(three, 75)), (98.0, 73.3), "UCI's table: {two}/50, {three}/75");
}

/// A lookup table trained by `rda` with `samples` (random picks from the run's generator) and
/// shuffled batches: the state a resumed run must restore.
const LONG_RDA: &str = r#"
data rows = uniform([4096, 4], 0.0, 1.0, seed = 3);
param table: bool[16] = bernoulli(0.5);
fn target[B](b: bool[B, 4]) -> bool[B] { xor(b[:, 0] & b[:, 1], b[:, 2] | b[:, 3]) }
fn errors[B](x: f64[B, 4]) -> bool[B] {
    let b = x > 0.5;
    let code = 8 * i64(b[:, 0]) + 4 * i64(b[:, 1]) + 2 * i64(b[:, 2]) + i64(b[:, 3]);
    let sel = one_hot(code, 16, dtype = bool);
    // Flip noise on one row in 7, so the table keeps changing.
    let noisy = xor(target(b), x[:, 0] * 7.0 % 1.0 < 0.15);
    xor(parity(sel & broadcast(table, [B, 16]), axis = 1), noisy)
}
train errors(rows) {
    optimizer = rda(samples = 1),
    steps = 400000,
    batch = 2,
    shuffle = true,
    checkpoint = "run.safetensors",
    checkpoint_every = 2000,
}
save "final.safetensors";
"#;

fn gradc(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gradc"));
    c.current_dir(dir).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn saved(path: &Path) -> Vec<(String, Vec<f64>)> {
    safetensors_io::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_iter().map(|(n, t)| (n, t.to_f64_vec())).collect()
}

#[test]
fn a_killed_rda_run_resumes_to_the_same_params() {
    let whole = tempfile::tempdir().unwrap();
    std::fs::write(whole.path().join("long.gd"), LONG_RDA).unwrap();
    let out = gradc(whole.path(), &["run", "--quiet", "long.gd"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = saved(&whole.path().join("final.safetensors"));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("train errors: 400000 steps in "));

    let killed = tempfile::tempdir().unwrap();
    std::fs::write(killed.path().join("long.gd"), LONG_RDA).unwrap();
    let mut child = gradc(killed.path(), &["run", "--quiet", "long.gd"]).spawn().unwrap();
    let ckpt = killed.path().join("run.safetensors");
    let start = Instant::now();
    while !ckpt.exists() && start.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(30));
    let _ = child.kill();
    let _ = child.wait();
    let loaded = gradc::runtime::checkpoint::load(&ckpt).expect("the checkpoint loads");
    assert!(loaded.step < 400_000, "the run ended before it was killed");
    // The checkpoint holds the bool table as BOOL.
    let table = loaded.params.iter().find(|(n, _)| n == "table").expect("the table is saved");
    assert_eq!(table.1.dtype(), gradc::runtime::tensor::DType::Bool);
    let out = gradc(killed.path(), &["run", "--quiet", "long.gd", "--resume", "run.safetensors"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(saved(&killed.path().join("final.safetensors")), expected, "resumed at step {}", loaded.step);
}

/// Batches of several rows (their flips XOR together), validation by error bits, and the log:
/// a 4-entry table learns XOR from uniform rows.
#[test]
fn rda_learns_xor_in_batches_with_validation_counted_in_error_bits() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    let program = format!(
        r#"
param t: bool[4] = bernoulli(0.5);
data rows = uniform([64, 2], 0.0, 1.0, seed = 1);
data held = uniform([32, 2], 0.0, 1.0, seed = 2);
fn errors[B](x: f64[B, 2]) -> bool[B] {{
    let a = x[:, 0] > 0.5;
    let b = x[:, 1] > 0.5;
    let sel = one_hot(2 * i64(a) + i64(b), 4, dtype = bool);
    xor(parity(sel & broadcast(t, [B, 4]), axis = 1), xor(a, b))
}}
train errors(rows) {{ optimizer = rda(), epochs = 2, batch = 4, validate = errors(held), log = "{}", log_every = 4 }}
assert all(t == [false, true, true, false]);
assert !any(errors(held));
"#,
        log.display()
    );
    std::fs::write(dir.path().join("xor.gd"), program).unwrap();
    let out = run_program(&dir.path().join("xor.gd"));
    assert!(out.starts_with("train errors: 32 steps in ") && out.contains("final loss 0.0000"), "{out}");
    let log = std::fs::read_to_string(log).unwrap();
    let rows: Vec<Vec<&str>> = log.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 8, "{log}");
    // Error counts are whole numbers, at most the batch (training) or the held-out rows.
    for r in &rows {
        let (loss, val): (f64, f64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        assert!(loss.fract() == 0.0 && (0.0..=4.0).contains(&loss) && val.fract() == 0.0 && (0.0..=32.0).contains(&val), "{log}");
    }
    assert_eq!(rows.last().unwrap()[2], "0.0", "{log}");
}
