//! Checkpoints: bit-exact round trips, the documented layout as the `safetensors` crate sees
//! it, clear errors (never panics) for damaged or foreign files, and atomicity: a writer
//! SIGKILLed at random moments always leaves a checkpoint that loads.

use gradc_runtime::checkpoint::{self, Checkpoint, CheckpointError};
use gradc_runtime::rng::Rng;
use gradc_runtime::safetensors_io;
use gradc_runtime::tensor::{Buffer, Tensor};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn t(shape: &[usize], data: Buffer) -> Tensor {
    Tensor::new(shape.to_vec(), data).unwrap()
}

/// A checkpoint using every dtype, scalars, empty tensors, awkward floats and a generator
/// holding a spare normal draw.
fn sample() -> Checkpoint {
    let mut rng = Rng::seed_from_u64(42);
    rng.normal_f64(); // leaves a spare in the state
    let nan_payload = f64::from_bits(0x7ff8_0000_dead_beef);
    Checkpoint {
        step: 1500,
        params: vec![
            ("b1".into(), t(&[3], Buffer::F32(vec![0.5, -0.0, f32::MIN_POSITIVE]))),
            ("count".into(), Tensor::scalar_i64(-7)),
            ("mask".into(), t(&[2, 2], Buffer::Bool(vec![true, false, false, true]))),
            ("none".into(), t(&[0, 4], Buffer::F64(vec![]))),
            ("w1".into(), t(&[2, 3], Buffer::F64(vec![1.0, -2.5, nan_payload, 1e-310, -0.0, 7.0]))),
        ],
        optimizer: vec![
            ("m/b1".into(), t(&[3], Buffer::F32(vec![1e-3, 2e-3, 3e-3]))),
            ("m/w1".into(), t(&[2, 3], Buffer::F64(vec![0.1; 6]))),
            ("t".into(), Tensor::scalar_i64(1500)),
            ("v/w1".into(), t(&[2, 3], Buffer::F64(vec![f64::INFINITY; 6]))),
        ],
        rng: rng.state(),
        program: "sha256:0123456789abcdef".into(),
        train_history: vec![(100, 0.5), (200, f64::NAN), (300, 1e-12)],
        validation_history: vec![(100, 0.75)],
    }
}

/// Bit-for-bit equality (NaN payloads and -0.0 included).
fn assert_identical(a: &Checkpoint, b: &Checkpoint) {
    fn bits(t: &Tensor) -> (Vec<usize>, String, Vec<u64>) {
        let words = match t.data() {
            Buffer::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
            Buffer::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
            Buffer::I64(v) => v.iter().map(|&x| x as u64).collect(),
            Buffer::Bool(v) => v.iter().map(|&x| u64::from(x)).collect(),
        };
        (t.shape().to_vec(), t.dtype().to_string(), words)
    }
    let named = |v: &[(String, Tensor)]| -> Vec<_> {
        let mut v: Vec<_> = v.iter().map(|(n, t)| (n.clone(), bits(t))).collect();
        v.sort();
        v
    };
    let series = |v: &[(u64, f64)]| -> Vec<(u64, u64)> {
        v.iter().map(|&(s, l)| (s, l.to_bits())).collect()
    };
    assert_eq!(a.step, b.step);
    assert_eq!(named(&a.params), named(&b.params));
    assert_eq!(named(&a.optimizer), named(&b.optimizer));
    assert_eq!(a.rng, b.rng);
    assert_eq!(a.program, b.program);
    assert_eq!(series(&a.train_history), series(&b.train_history));
    assert_eq!(series(&a.validation_history), series(&b.validation_history));
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn round_trip_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.safetensors");
    let ckpt = sample();
    checkpoint::save(&path, &ckpt).unwrap();
    let back = checkpoint::load(&path).unwrap();
    assert_identical(&ckpt, &back);
    // Sorted by name, as documented.
    let names: Vec<&str> = back.params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["b1", "count", "mask", "none", "w1"]);
    let names: Vec<&str> = back.optimizer.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["m/b1", "m/w1", "t", "v/w1"]);
    // The generator comes back in the same state: the same draws follow.
    let mut a = Rng::from_state(ckpt.rng).unwrap();
    let mut b = back.rng().unwrap();
    for _ in 0..5 {
        assert_eq!(a.normal_f64().to_bits(), b.normal_f64().to_bits());
    }
    assert_eq!(dir_entries(dir.path()), ["run.safetensors"]);

    // Saving the loaded checkpoint again and loading that gives the same checkpoint. (Not
    // necessarily the same bytes: the `safetensors` crate writes the metadata keys in hash
    // order.)
    let again = dir.path().join("again.safetensors");
    checkpoint::save(&again, &back).unwrap();
    assert_identical(&ckpt, &checkpoint::load(&again).unwrap());
}

#[test]
fn empty_parts_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let ckpt = Checkpoint {
        step: 0,
        params: vec![],
        optimizer: vec![],
        rng: Rng::seed_from_u64(0).state(),
        program: "p".into(),
        train_history: vec![],
        validation_history: vec![],
    };
    checkpoint::save(&path, &ckpt).unwrap();
    assert_identical(&ckpt, &checkpoint::load(&path).unwrap());
}

#[test]
fn the_layout_as_the_safetensors_crate_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.safetensors");
    let ckpt = sample();
    checkpoint::save(&path, &ckpt).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();

    let mut names = st.names();
    names.sort();
    assert_eq!(
        names,
        [
            "b1",
            "count",
            "history/train/loss",
            "history/train/step",
            "history/validation/loss",
            "history/validation/step",
            "mask",
            "none",
            "optimizer/m/b1",
            "optimizer/m/w1",
            "optimizer/t",
            "optimizer/v/w1",
            "w1",
        ]
    );
    let want: &[(&str, Dtype, &[usize])] = &[
        ("w1", Dtype::F64, &[2, 3]),
        ("b1", Dtype::F32, &[3]),
        ("count", Dtype::I64, &[]),
        ("mask", Dtype::BOOL, &[2, 2]),
        ("none", Dtype::F64, &[0, 4]),
        ("optimizer/m/w1", Dtype::F64, &[2, 3]),
        ("optimizer/m/b1", Dtype::F32, &[3]),
        ("optimizer/t", Dtype::I64, &[]),
        ("history/train/step", Dtype::I64, &[3]),
        ("history/train/loss", Dtype::F64, &[3]),
        ("history/validation/step", Dtype::I64, &[1]),
        ("history/validation/loss", Dtype::F64, &[1]),
    ];
    for &(name, dtype, shape) in want {
        let v = st.tensor(name).unwrap();
        assert_eq!(v.dtype(), dtype, "{name}");
        assert_eq!(v.shape(), shape, "{name}");
    }
    // Raw little-endian data, as any reader sees it.
    let le = |xs: &[i64]| xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(st.tensor("history/train/step").unwrap().data(), &le(&[100, 200, 300])[..]);
    assert_eq!(st.tensor("optimizer/t").unwrap().data(), &le(&[1500])[..]);

    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    let rng = ckpt.rng.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    assert_eq!(
        meta,
        HashMap::from([
            ("gradc.format".to_string(), "1".to_string()),
            ("gradc.step".to_string(), "1500".to_string()),
            ("gradc.rng".to_string(), rng),
            ("gradc.program".to_string(), "sha256:0123456789abcdef".to_string()),
        ])
    );

    // The language's own `load` of params reads a checkpoint too.
    let plain = safetensors_io::load(&path).unwrap();
    assert_eq!(plain.len(), 13);
}

#[test]
fn every_truncation_and_an_extra_byte_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.safetensors");
    checkpoint::save(&path, &sample()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.safetensors");
    for n in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..n]).unwrap();
        match checkpoint::load(&cut) {
            Err(CheckpointError::Read { message, .. }) => {
                assert!(message.contains("truncated"), "cut at {n}: {message}")
            }
            other => panic!("cut at {n}: {other:?}"),
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    std::fs::write(&cut, &longer).unwrap();
    assert!(matches!(checkpoint::load(&cut), Err(CheckpointError::Read { .. })));
}

#[test]
fn corrupted_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.safetensors");
    checkpoint::save(&path, &sample()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.path().join("bad.safetensors");
    let mut rng = Rng::seed_from_u64(3);
    let (mut ok, mut err) = (0, 0);
    for i in 0..bytes.len() + 300 {
        let mut b = bytes.clone();
        // Every single position once (in the header: every character), then random
        // multi-byte damage.
        if i < bytes.len() {
            b[i] ^= 1 << (i % 8);
        } else {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.next_u64() as u8;
            }
        }
        std::fs::write(&bad, &b).unwrap();
        // Flips in the data section change values but leave a valid file.
        match checkpoint::load(&bad) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                err += 1;
            }
        }
    }
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}

/// Writes a safetensors file with exactly these tensors and metadata.
fn raw(path: &Path, tensors: &[(&str, Tensor)], meta: &[(&str, &str)]) {
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let meta = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors_io::save(path, &refs, Some(meta)).unwrap();
}

fn history() -> Vec<(&'static str, Tensor)> {
    vec![
        ("history/train/step", t(&[1], Buffer::I64(vec![1]))),
        ("history/train/loss", t(&[1], Buffer::F64(vec![0.5]))),
        ("history/validation/step", t(&[0], Buffer::I64(vec![]))),
        ("history/validation/loss", t(&[0], Buffer::F64(vec![]))),
    ]
}

fn good_meta() -> Vec<(&'static str, String)> {
    let rng = Rng::seed_from_u64(1).state().iter().map(u64::to_string).collect::<Vec<_>>();
    vec![
        ("gradc.format", "1".to_string()),
        ("gradc.step", "10".to_string()),
        ("gradc.rng", rng.join(",")),
        ("gradc.program", "fp".to_string()),
    ]
}

/// Loads a file made of `history()` plus `extra` tensors and `good_meta()` changed by
/// `edit`; returns the error message.
fn load_err(
    extra: &[(&'static str, Tensor)],
    edit: impl FnOnce(&mut Vec<(&'static str, String)>),
) -> CheckpointError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let mut tensors = history();
    for (n, t) in extra {
        tensors.retain(|(m, _)| m != n);
        tensors.push((n, t.clone()));
    }
    tensors.retain(|(_, t)| t.rank() != 7); // rank 7 marks "remove this one"
    let mut meta = good_meta();
    edit(&mut meta);
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    raw(&path, &tensors, &meta);
    let e = checkpoint::load(&path).unwrap_err();
    assert_eq!(e.path(), path);
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    e
}

fn remove(name: &'static str) -> (&'static str, Tensor) {
    (name, t(&[1, 1, 1, 1, 1, 1, 1], Buffer::F64(vec![0.0])))
}

#[test]
fn the_hand_made_good_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let meta = good_meta();
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut tensors = history();
    tensors.push(("w", Tensor::scalar_f64(2.0)));
    tensors.push(("history/future/thing", Tensor::scalar_f64(0.0)));
    raw(&path, &tensors, &meta);
    let c = checkpoint::load(&path).unwrap();
    assert_eq!(c.step, 10);
    assert_eq!(c.params, [("w".to_string(), Tensor::scalar_f64(2.0))]);
    assert_eq!(c.train_history, [(1, 0.5)]);
    assert!(c.validation_history.is_empty());
}

#[test]
fn foreign_and_damaged_files_get_clear_errors() {
    // A params file written by `save`: no gradc metadata at all.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("params.safetensors");
    raw(&path, &[("w", Tensor::scalar_f64(1.0))], &[]);
    let e = checkpoint::load(&path).unwrap_err();
    assert!(matches!(e, CheckpointError::NotACheckpoint { .. }), "{e:?}");
    assert!(e.to_string().contains("not a gradc checkpoint"), "{e}");

    let e = load_err(&[], |m| m[0].1 = "2".into());
    assert!(matches!(&e, CheckpointError::Version { found, .. } if found == "2"), "{e:?}");
    assert!(e.to_string().contains("format version \"2\"; this gradc reads version 1"), "{e}");

    for key in ["gradc.step", "gradc.rng", "gradc.program"] {
        let e = load_err(&[], |m| m.retain(|(k, _)| *k != key));
        assert!(matches!(&e, CheckpointError::Missing { key: k, .. } if k == key), "{e:?}");
        assert!(e.to_string().contains(&format!("it has no `{key}`")), "{e}");
    }
    for name in [
        "history/train/step",
        "history/train/loss",
        "history/validation/step",
        "history/validation/loss",
    ] {
        let e = load_err(&[remove(name)], |_| {});
        assert!(matches!(&e, CheckpointError::Missing { key, .. } if key == name), "{e:?}");
    }

    let invalid = |e: CheckpointError, want_key: &str, words: &str| {
        match &e {
            CheckpointError::Invalid { key, .. } => assert_eq!(key, want_key, "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains(words), "{e}");
    };
    invalid(load_err(&[], |m| m[1].1 = "-3".into()), "gradc.step", "not a step count");
    invalid(load_err(&[], |m| m[1].1 = " 3".into()), "gradc.step", "not a step count");
    invalid(
        load_err(&[], |m| m[1].1 = "99999999999999999999999".into()),
        "gradc.step",
        "not a step count",
    );
    invalid(load_err(&[], |m| m[2].1 = "1,2,x".into()), "gradc.rng", "not comma-separated");
    invalid(load_err(&[], |m| m[2].1 = "1,2,3".into()), "gradc.rng", "has 3 words");
    invalid(load_err(&[], |m| m[2].1 = "0,0,0,0,0,0".into()), "gradc.rng", "not a state");
    invalid(load_err(&[], |m| m[2].1 = "1,2,3,4,2,0".into()), "gradc.rng", "not a state");
    invalid(load_err(&[], |m| m[3].1 = String::new()), "gradc.program", "is empty");
    invalid(
        load_err(&[("history/train/step", t(&[1], Buffer::F64(vec![1.0])))], |_| {}),
        "history/train/step",
        "must be a vector of i64",
    );
    invalid(
        load_err(&[("history/train/loss", t(&[1, 1], Buffer::F64(vec![1.0])))], |_| {}),
        "history/train/loss",
        "must be a vector of f64",
    );
    invalid(
        load_err(&[("history/train/loss", t(&[2], Buffer::F64(vec![1.0, 2.0])))], |_| {}),
        "history/train/loss",
        "has 2 entries but `history/train/step` has 1",
    );
    invalid(
        load_err(&[("history/train/step", t(&[1], Buffer::I64(vec![-1])))], |_| {}),
        "history/train/step",
        "negative step -1",
    );

    // Not a file at all.
    let e = checkpoint::load(&dir.path().join("nope.safetensors")).unwrap_err();
    assert!(matches!(&e, CheckpointError::Read { message, .. } if message == "no such file"));
    assert!(e.to_string().starts_with("cannot read checkpoint `"), "{e}");
}

#[test]
fn resume_refuses_another_programs_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.safetensors");
    checkpoint::save(&path, &sample()).unwrap();
    let ok = checkpoint::load_for_program(&path, "sha256:0123456789abcdef").unwrap();
    assert_eq!(ok.step, 1500);
    let e = checkpoint::load_for_program(&path, "sha256:ffff").unwrap_err();
    assert_eq!(
        e,
        CheckpointError::OtherProgram {
            path: path.clone(),
            found: "sha256:0123456789abcdef".into(),
            expected: "sha256:ffff".into(),
        }
    );
    assert!(e.to_string().contains("written by another program"), "{e}");
}

#[test]
fn bad_checkpoints_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.safetensors");
    let check = |c: &Checkpoint, words: &str| {
        let e = checkpoint::save(&path, c).unwrap_err();
        assert!(matches!(e, CheckpointError::Write { .. }), "{e:?}");
        assert!(e.to_string().contains(words), "{e}");
        assert!(!path.exists());
    };
    let mut c = sample();
    c.params.push(("optimizer/m".into(), Tensor::scalar_f64(0.0)));
    check(&c, "reserve");
    let mut c = sample();
    c.params.push(("history/x".into(), Tensor::scalar_f64(0.0)));
    check(&c, "reserve");
    let mut c = sample();
    c.params.push(("w1".into(), Tensor::scalar_f64(0.0)));
    check(&c, "two tensors are named `w1`");
    let mut c = sample();
    c.optimizer.push(("t".into(), Tensor::scalar_f64(0.0)));
    check(&c, "two tensors are named `optimizer/t`");
    let mut c = sample();
    c.params.push((String::new(), Tensor::scalar_f64(0.0)));
    check(&c, "empty name");
    let mut c = sample();
    c.program.clear();
    check(&c, "fingerprint is empty");

    let missing = dir.path().join("no/such/run.safetensors");
    let e = checkpoint::save(&missing, &sample()).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");

    // A failed save leaves the previous checkpoint whole.
    checkpoint::save(&path, &sample()).unwrap();
    let mut c = sample();
    c.params.push(("w1".into(), Tensor::scalar_f64(0.0)));
    checkpoint::save(&path, &c).unwrap_err();
    assert_identical(&checkpoint::load(&path).unwrap(), &sample());
}

// ---- Atomicity under SIGKILL ----------------------------------------------------------

const CHILD_ENV: &str = "GRADC_TEST_CHECKPOINT_WRITER";

/// The checkpoint the writer saves at `step`: sizes vary with the step (up to ~2.4 MB, so a
/// write takes long enough to be interrupted), every value is derived from the step, so a
/// file mixing two writes would show.
fn checkpoint_at(step: u64) -> Checkpoint {
    let n = 1000 + (step as usize * 7919) % 150_000;
    let s = step as f64;
    Checkpoint {
        step,
        params: vec![
            ("w".into(), t(&[n], Buffer::F64(vec![s; n]))),
            ("b".into(), t(&[3], Buffer::I64(vec![step as i64; 3]))),
        ],
        optimizer: vec![("m/w".into(), t(&[n], Buffer::F64(vec![-s; n])))],
        rng: Rng::seed_from_u64(step).state(),
        program: format!("writer-{}", step % 3),
        train_history: (1..=step % 50).map(|k| (k, s)).collect(),
        validation_history: vec![(step, s / 2.0)],
    }
}

/// Not a test on its own: the child process of `a_killed_writer_leaves_a_loadable_checkpoint`
/// (this test binary run again with `CHILD_ENV` set to the checkpoint's path). Writes
/// checkpoints of steps 1, 2, … until it is killed. Without the variable it does nothing.
#[test]
fn checkpoint_writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else { return };
    let path = PathBuf::from(path);
    for step in 1.. {
        checkpoint::save(&path, &checkpoint_at(step)).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn a_killed_writer_leaves_a_loadable_checkpoint() {
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64;
    eprintln!("kill timing seed {seed}");
    let mut rng = Rng::seed_from_u64(seed);
    let exe = std::env::current_exe().unwrap();
    let mut steps_seen = Vec::new();
    let mut mid_write = 0;
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.safetensors");
        let mut child = Command::new(&exe)
            .args(["checkpoint_writer_child", "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // After the first checkpoint, at a random moment in the next 0–60 ms.
        let started = Instant::now();
        while !path.exists() {
            assert!(started.elapsed() < Duration::from_secs(60), "the writer never wrote");
            assert!(child.try_wait().unwrap().is_none(), "the writer exited");
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let c =
            checkpoint::load(&path).unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        assert_identical(&c, &checkpoint_at(c.step));
        steps_seen.push(c.step);
        // Besides the checkpoint, at most the temporary file the kill interrupted.
        for name in dir_entries(dir.path()) {
            mid_write += usize::from(name.ends_with(".tmp"));
            assert!(
                name == "run.safetensors"
                    || (name.starts_with(".run.safetensors.") && name.ends_with(".tmp")),
                "{name}"
            );
        }
    }
    eprintln!("steps at the kills: {steps_seen:?}; {mid_write} of 10 in the middle of a write");
}
