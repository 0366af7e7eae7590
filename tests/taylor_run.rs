//! Taylor mode as a user runs it, through the binary: the Taylor, `diff` and `laplacian` lines
//! of examples/derivatives.gd, and the random directions of `laplacian(f, samples = S)` —
//! fresh at every evaluation, from the run's seed, and reproduced by `--resume` in training.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn gradc(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gradc"));
    c.current_dir(dir).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Runs `source` with `gradc run EXTRA…` in a fresh directory; asserts success.
fn run(source: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.gd"), source).unwrap();
    let mut args = vec!["run", "--quiet", "p.gd"];
    args.extend(extra);
    let out: Output = gradc(dir.path(), &args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "gradc run failed:\n{source}\n{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_taylor_lines_of_the_derivatives_example_run_and_hold() {
    // Everything but the `vmap` lines (vmap is built separately): asserts fail the run.
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/derivatives.gd")).unwrap();
    let source: String = example.lines().filter(|l| !l.contains("vmap")).map(|l| format!("{l}\n")).collect();
    assert!(source.contains("taylor(") && source.contains("laplacian(u, samples = 16)") && source.contains("diff("));
    for backend in ["jit", "interp"] {
        let out = run(&source, &["--backend", backend]);
        assert!(out.contains("taylor of exp(sin t): [1.0, 1.0, 0.5, 0.0, -0.125, -0.0666666"), "{backend}:\n{out}");
        assert!(out.contains("laplacian of u at (1, 2, 3): 60.0 estimate from 16 directions:"), "{backend}:\n{out}");
        assert!(out.contains("S3: -1.30686414"), "{backend}:\n{out}");
    }
}

const U: &str = "fn u(x: f64[3]) -> f64 { sum(x ^ 2) * sum(x) }\n";

#[test]
fn stochastic_directions_are_fresh_at_every_evaluation_and_follow_the_seed() {
    let lines = (0..12).map(|_| "print laplacian(u, samples = 1)([1.0, 2.0, 3.0]);\n").collect::<String>();
    let source = format!("{U}{lines}");
    let a = run(&source, &["--seed", "1"]);
    let values: Vec<f64> = a.lines().map(|l| l.trim().parse().unwrap()).collect();
    // One direction's estimate is 2 c₂ along it: one of the jet outputs of ORACLES S1.
    assert!(values.iter().all(|v| [36.0, 44.0, 52.0, 108.0].contains(v)), "{values:?}");
    assert!(values.iter().any(|v| *v != values[0]), "every evaluation drew the same direction: {values:?}");
    assert_eq!(run(&source, &["--seed", "1"]), a, "the same seed draws the same directions");
    assert_ne!(run(&source, &["--seed", "2"]), a, "another seed draws other directions");
    // The same statement twice in one program: two evaluations, two draws (12 samples each).
    let twice = format!("{U}print laplacian(u, samples = 12)([1.0, 2.0, 3.0]), laplacian(u, samples = 12)([1.0, 2.0, 3.0]);\n");
    let out = run(&twice, &[]);
    let v: Vec<&str> = out.split_whitespace().collect();
    assert_ne!(v[0], v[1], "two stochastic calls share their directions: {out}");
}

/// A loss whose value depends on the random directions: the trajectory depends on every draw.
const TRAIN: &str = r#"
param a: f64[3] = [0.5, -0.2, 0.1];
fn loss(x: f64[3]) -> f64 {
    let lap = laplacian(|y: f64[3]| sum(a * y ^ 2) * sum(y), samples = 2)(x);
    (lap - 3.0) ^ 2 * 1e-4 + sum(a ^ 2)
}
train loss([1.0, 2.0, 3.0]) {
    optimizer = sgd(lr = 1e-3),
    steps = STEPS,
    checkpoint = "run.safetensors",
    checkpoint_every = 5000,
}
save "final.safetensors";
"#;

fn params(path: &Path) -> Vec<(String, Vec<u8>)> {
    let loaded = gradc::runtime::safetensors_io::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    loaded.into_iter().map(|(n, t)| (n, t.to_f64_vec().iter().flat_map(|v| v.to_le_bytes()).collect())).collect()
}

#[test]
fn a_resumed_training_redraws_the_same_directions() {
    let steps = 200_000;
    let program = TRAIN.replace("STEPS", &steps.to_string());
    let whole = tempfile::tempdir().unwrap();
    std::fs::write(whole.path().join("p.gd"), &program).unwrap();
    let out = gradc(whole.path(), &["run", "--quiet", "p.gd"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = params(&whole.path().join("final.safetensors"));

    let killed = tempfile::tempdir().unwrap();
    std::fs::write(killed.path().join("p.gd"), &program).unwrap();
    let mut child = gradc(killed.path(), &["run", "--quiet", "p.gd"]).spawn().unwrap();
    let ckpt = killed.path().join("run.safetensors");
    let start = Instant::now();
    while !ckpt.exists() && start.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50));
    let _ = child.kill();
    let _ = child.wait();
    let loaded = gradc::runtime::checkpoint::load(&ckpt).expect("a checkpoint was written");
    assert!(loaded.step < steps as u64, "the run finished before it was killed: make it longer");
    let out = gradc(killed.path(), &["run", "--quiet", "p.gd", "--resume", "run.safetensors"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(params(&killed.path().join("final.safetensors")), expected, "resumed params differ from the uninterrupted run");
}
