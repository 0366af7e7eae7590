//! Training as a user runs it, through the binary: checkpoints survive SIGKILL, `--resume`
//! ends with exactly the params of an uninterrupted run, Ctrl-C writes a checkpoint and
//! exits 130, a diverging loss stops with E096 and keeps the last good checkpoint.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gradc::runtime::safetensors_io;

/// A small regression with shuffled batches, a fresh random argument every step and Adam:
/// everything whose state a resumed run must restore.
const PROGRAM: &str = r#"
data xs = normal([512, 4], seed = 1);
param w: f64[4] = normal(0, 1);
param b: f64 = 0.0;
fn loss[B](x: f64[B, 4], noise: f64[B]) -> f64 { mean((x @ w + b - x @ [1.0, -2.0, 0.5, 3.0] + 0.01 * noise) ^ 2) }
train loss(xs, normal([64])) {
    optimizer = adam(lr = 1e-3),
    steps = STEPS,
    batch = 64,
    shuffle = true,
    checkpoint = "run.safetensors",
    checkpoint_every = 5000,
}
save "final.safetensors";
"#;

fn gradc(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gradc"));
    c.current_dir(dir).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn write_program(dir: &Path, steps: usize) -> String {
    let path = dir.join("train.gd");
    std::fs::write(&path, PROGRAM.replace("STEPS", &steps.to_string())).unwrap();
    path.display().to_string()
}

fn params(path: &Path) -> Vec<(String, Vec<u8>)> {
    let loaded = safetensors_io::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    loaded.into_iter().map(|(n, t)| (n, t.to_f64_vec().iter().flat_map(|v| v.to_le_bytes()).collect())).collect()
}

/// Waits until `file` exists (or the child exits), up to a minute.
fn wait_for(file: &Path, child: &mut std::process::Child) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if file.exists() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return file.exists();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn a_run_killed_after_its_first_checkpoint_resumes_to_the_same_params() {
    let steps = 300_000;
    let whole = tempfile::tempdir().unwrap();
    let program = write_program(whole.path(), steps);
    let out = gradc(whole.path(), &["run", "--quiet", &program]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = params(&whole.path().join("final.safetensors"));

    // A pseudo-random moment after the first checkpoint (the clock's nanoseconds).
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let delay = Duration::from_millis(u64::from(nanos % 400));
    let killed = tempfile::tempdir().unwrap();
    let program = write_program(killed.path(), steps);
    let mut child = gradc(killed.path(), &["run", "--quiet", &program]).spawn().unwrap();
    let ckpt = killed.path().join("run.safetensors");
    assert!(wait_for(&ckpt, &mut child), "no checkpoint was written");
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    println!("killed {delay:?} after the first checkpoint");

    // Whatever moment it died at, the checkpoint loads; it is from the middle of the run.
    let loaded = gradc::runtime::checkpoint::load(&ckpt).expect("the checkpoint on disk loads");
    println!("the checkpoint holds step {} of {steps}", loaded.step);
    assert!(loaded.step < steps as u64, "the run finished before it was killed: make it longer");
    let out = gradc(killed.path(), &["run", "--quiet", &program, "--resume", "run.safetensors"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(params(&killed.path().join("final.safetensors")), expected, "resumed params differ from the uninterrupted run");
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_a_checkpoint_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let program = write_program(dir.path(), 2_000_000);
    let mut child = gradc(dir.path(), &["run", "--quiet", &program]).spawn().unwrap();
    let ckpt = dir.path().join("run.safetensors");
    assert!(wait_for(&ckpt, &mut child), "no checkpoint was written");
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("E097") && stderr.contains("--resume"), "{stderr}");
    let ckpt = gradc::runtime::checkpoint::load(&ckpt).expect("the checkpoint loads");
    assert!(ckpt.step > 0);
}

#[test]
fn a_diverging_loss_stops_with_e096_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diverge.gd");
    std::fs::write(
        &path,
        "param x: f64 = 1.0;\nfn loss() -> f64 { exp(x * x) }\n\
         train loss() { optimizer = sgd(lr = 2.0), steps = 100, checkpoint = \"last.safetensors\", checkpoint_every = 1 }\n",
    )
    .unwrap();
    let out = gradc(dir.path(), &["run", "--quiet", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("E096") && stderr.contains("at step"), "{stderr}");
    let ckpt = gradc::runtime::checkpoint::load(&dir.path().join("last.safetensors")).expect("the last good checkpoint loads");
    let x = ckpt.params.iter().find(|(n, _)| n == "x").expect("x is saved").1.scalar_value().unwrap();
    assert!(x.is_finite(), "the kept checkpoint holds finite params, not {x}");
}

#[test]
fn the_summary_line_and_a_plot_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plot.gd");
    std::fs::write(
        &path,
        "param x: f64[2] = [3.0, -2.0];\nfn loss() -> f64 { sum(x ^ 2) }\n\
         train loss() { optimizer = sgd(lr = 0.1), steps = 50, log_every = 5, plot = \"loss.png\", log = \"train.csv\" }\nprint x;\n",
    )
    .unwrap();
    let out = gradc(dir.path(), &["run", path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap();
    assert!(first.starts_with("train loss: 50 steps in ") && first.contains(" ms/step), compile ") && first.contains(", final loss "), "{first}");
    let png = std::fs::read(dir.path().join("loss.png")).expect("the plot exists");
    assert_eq!(&png[1..4], b"PNG");
    let csv = std::fs::read_to_string(dir.path().join("train.csv")).unwrap();
    assert_eq!(csv.lines().count(), 11, "{csv}");
    // Progress lines go to stderr when it is not a terminal.
    assert!(String::from_utf8_lossy(&out.stderr).contains("step 50/50"));
}

/// Two `train` blocks sharing a checkpoint file: killed during the second, the resumed run
/// skips the first (its params come back from the checkpoint) and ends where an uninterrupted
/// run ends.
#[test]
fn resuming_a_later_block_restores_the_earlier_blocks_params() {
    let two = r#"
data xs = normal([256, 2], seed = 4);
param a: f64[2] = [0.0, 0.0];
param b: f64[2] = [0.0, 0.0];
fn first[B](x: f64[B, 2]) -> f64 { mean((x @ a - x @ [2.0, -1.0]) ^ 2) }
fn second[B](x: f64[B, 2]) -> f64 { mean((x @ b - x @ a) ^ 2) + 1e-3 * sum(b ^ 2) }
train first(xs) { optimizer = adam(lr = 1e-2), steps = 2000, batch = 32, checkpoint = "run.safetensors" }
train second(xs) { optimizer = adam(lr = 1e-4), steps = 400000, batch = 32, checkpoint = "run.safetensors", checkpoint_every = 5000 }
save "final.safetensors";
"#;
    let whole = tempfile::tempdir().unwrap();
    std::fs::write(whole.path().join("two.gd"), two).unwrap();
    let program = whole.path().join("two.gd").display().to_string();
    let out = gradc(whole.path(), &["run", "--quiet", &program]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = params(&whole.path().join("final.safetensors"));

    let killed = tempfile::tempdir().unwrap();
    std::fs::write(killed.path().join("two.gd"), two).unwrap();
    let program = killed.path().join("two.gd").display().to_string();
    let mut child = gradc(killed.path(), &["run", "--quiet", &program]).spawn().unwrap();
    let ckpt = killed.path().join("run.safetensors");
    // Wait for a checkpoint of the second block.
    let start = Instant::now();
    loop {
        let second = gradc::runtime::checkpoint::load(&ckpt).is_ok_and(|c| c.program.ends_with("/train1"));
        if second || start.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    let _ = child.kill();
    let _ = child.wait();
    let loaded = gradc::runtime::checkpoint::load(&ckpt).expect("the checkpoint loads");
    assert!(loaded.program.ends_with("/train1") && loaded.step < 400_000, "killed at {} step {}", loaded.program, loaded.step);
    let out = gradc(killed.path(), &["run", "--quiet", &program, "--resume", "run.safetensors"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(params(&killed.path().join("final.safetensors")), expected);
}

/// Runs `program` in a fresh directory; its stdout and the params it saves to `final.safetensors`.
fn run_saved(program: &str) -> (String, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.gd");
    std::fs::write(&path, program).unwrap();
    let out = gradc(dir.path(), &["run", "--quiet", path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{program}\n{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), params(&dir.path().join("final.safetensors")))
}

/// The `final loss …` of a summary line (the loss's name precedes it and differs).
fn final_losses(stdout: &str) -> Vec<String> {
    stdout.lines().filter_map(|l| l.split(", final loss ").nth(1)).map(str::to_string).collect()
}

/// A loss written as a lambda trains exactly as the named function it calls: the same
/// batches, random arguments, validation and optimizer steps, so the same bits.
#[test]
fn a_lambda_loss_trains_to_the_params_of_the_named_loss() {
    let program = r#"
data xs = normal([256, 4], seed = 1);
data xv = normal([32, 4], seed = 2);
param w: f64[4] = normal(0, 1);
param b: f64 = 0.0;
param kept: f64 = 3.0;
fn loss[B](x: f64[B, 4], noise: f64[B]) -> f64 { mean((x @ w + b - x @ [1.0, -2.0, 0.5, 3.0] + 0.01 * noise) ^ 2) }
train LOSS(xs, normal([32])) {
    optimizer = adam(lr = 1e-2), steps = 300, batch = 32, shuffle = true,
    validate = loss(xv, zeros([32])), checkpoint = "run.safetensors", checkpoint_every = 100,
}
train LBFGS(xs, 0.5) { optimizer = lbfgs(), steps = 20 }
save "final.safetensors";
"#;
    let named = program.replace("LOSS", "loss").replace("LBFGS", "(|x: f64[256, 4], s: f64| loss(x, zeros([256]) + s))");
    let lambda = program
        .replace("LOSS", "(|x: f64[32, 4], n| loss(x, n))")
        .replace("LBFGS", "(|x, s: f64| { let m = loss(x, zeros([256]) + s); m })");
    let (named_out, named_params) = run_saved(&named);
    let (lambda_out, lambda_params) = run_saved(&lambda);
    assert_eq!(lambda_params, named_params);
    assert_eq!(final_losses(&lambda_out), final_losses(&named_out));
    assert_eq!(final_losses(&named_out).len(), 2, "{named_out}");
    // `kept` is read by neither loss: it keeps its value.
    let kept = named_params.iter().find(|(n, _)| n == "kept").unwrap();
    assert_eq!(kept.1, 3.0f64.to_le_bytes().to_vec());
}

/// A killed run of a lambda loss resumes from its checkpoint to the params of an
/// uninterrupted run.
#[test]
fn a_lambda_loss_resumes_to_the_same_params() {
    let lambda = PROGRAM.replace("train loss(xs, normal([64]))", "train (|x, n| loss(x, n))(xs, normal([64]))");
    let steps = 300_000;
    let whole = tempfile::tempdir().unwrap();
    std::fs::write(whole.path().join("train.gd"), lambda.replace("STEPS", &steps.to_string())).unwrap();
    let out = gradc(whole.path(), &["run", "--quiet", "train.gd"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = params(&whole.path().join("final.safetensors"));

    let killed = tempfile::tempdir().unwrap();
    std::fs::write(killed.path().join("train.gd"), lambda.replace("STEPS", &steps.to_string())).unwrap();
    let mut child = gradc(killed.path(), &["run", "--quiet", "train.gd"]).spawn().unwrap();
    let ckpt = killed.path().join("run.safetensors");
    assert!(wait_for(&ckpt, &mut child), "no checkpoint was written");
    std::thread::sleep(Duration::from_millis(50));
    let _ = child.kill();
    let _ = child.wait();
    let out = gradc(killed.path(), &["run", "--quiet", "train.gd", "--resume", "run.safetensors"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(params(&killed.path().join("final.safetensors")), expected);
}

/// A derivative operator with a scalar result as the loss: `grad` of an energy in a scale
/// `s` (at `s = 1`, written as the untyped `1`) and a Laplacian, each trained as the named
/// function that returns the same operator trains.
#[test]
fn a_derivative_operator_loss_trains_as_a_named_function_of_it() {
    let program = r#"
data xs = uniform([16, 2], 0, 1, seed = 1);
param w: f64[2] = [0.1, 0.2];
param v: f64[2] = [1.0, -1.0];
fn energy(s: f64) -> f64 { sum(((xs * s) @ w - 1.0) ^ 2) }
fn bowl(x: f64[2]) -> f64 { sum((x * v - 1.0) ^ 2) + sum(v ^ 4) }
FIRST
SECOND
save "final.safetensors";
"#;
    let named = program
        .replace("FIRST", "fn de() -> f64 { grad(energy)(1.0) }\ntrain de() { optimizer = adam(lr = 0.05), steps = 200 }")
        .replace("SECOND", "fn lap() -> f64 { laplacian(bowl)([1.0, 2.0]) }\ntrain lap() { optimizer = sgd(lr = 0.01), steps = 50 }");
    let operator = program
        .replace("FIRST", "train grad(energy)(1) { optimizer = adam(lr = 0.05), steps = 200 }")
        .replace("SECOND", "train laplacian(bowl)([1, 2]) { optimizer = sgd(lr = 0.01), steps = 50 }");
    let (named_out, named_params) = run_saved(&named);
    let (op_out, op_params) = run_saved(&operator);
    assert_eq!(op_params, named_params, "{op_out}\n{named_out}");
    assert_eq!(final_losses(&op_out), final_losses(&named_out));
    // The gradient of the energy at s = 1 is 2 Σ (xw - 1) xw: minimal at x·w = 1/2, where it
    // is -Σ 1/2 = -8 for 16 rows; training gets close.
    let first: f64 = final_losses(&op_out)[0].parse().unwrap();
    assert!(first < -7.0, "{op_out}");
}

/// `rda` with a lambda loss (and `samples`, which draws from the run's generator) flips the
/// bits the named loss flips.
#[test]
fn an_rda_lambda_loss_trains_as_the_named_loss() {
    let program = r#"
use circuits;
data rows = uniform([16, 2], 0, 1, seed = 3);
param t: bool[4] = bernoulli(0.5);
fn errors[B](r: f64[B, 2]) -> bool[B] {
    let a = r[:, 0] > 0.5;
    let b = r[:, 1] > 0.5;
    let e = |k: i64| broadcast(t[k], [B]);
    xor(mux(a, mux(b, e(3), e(2)), mux(b, e(1), e(0))), xor(a, b))
}
train LOSS(rows) { optimizer = rda(samples = 1), epochs = 3, batch = 4 }
print t, any(errors(rows));
save "final.safetensors";
"#;
    let (named_out, named_params) = run_saved(&program.replace("LOSS", "errors"));
    let (lambda_out, lambda_params) = run_saved(&program.replace("LOSS", "(|r: f64[4, 2]| errors(r))"));
    assert_eq!(lambda_params, named_params);
    assert_eq!(lambda_out.lines().last(), named_out.lines().last());
}
