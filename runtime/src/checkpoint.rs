//! Training checkpoints: everything a `train` block needs to continue exactly where it
//! stopped (LANGUAGE.md §8, `checkpoint =` and `gradc run --resume`), in one safetensors file.
//!
//! A checkpoint is an ordinary safetensors file, so PyTorch, JAX, NumPy or the `safetensors`
//! crate read it as they read any other; `docs/checkpoints.md` describes the same layout for
//! people writing such tools. The layout, format version 1:
//!
//! | what | where in the file |
//! |---|---|
//! | each param | a tensor under the param's own name (`w1`, `b1`, …), its own dtype and shape |
//! | the optimizer's state | a tensor `optimizer/NAME` per entry; the optimizer chooses the `NAME`s (e.g. `optimizer/m/w1`, `optimizer/t`) |
//! | the logged training loss | `history/train/step` (I64, `[n]`) and `history/train/loss` (F64, `[n]`) |
//! | the logged validation loss | `history/validation/step` (I64, `[m]`) and `history/validation/loss` (F64, `[m]`) |
//! | `gradc.format` | metadata: the string `"1"` |
//! | `gradc.step` | metadata: steps completed, in decimal (`"1500"`) |
//! | `gradc.rng` | metadata: the generator's [`STATE_WORDS`] state words ([`Rng::state`]), decimal, comma-separated |
//! | `gradc.program` | metadata: the fingerprint of the program that wrote it (the caller's hash string) |
//!
//! Names are the safetensors header keys; the metadata is the header's `__metadata__` map of
//! strings. A name with no `optimizer/` or `history/` prefix is a param, so a checkpoint is
//! also a valid input for the language's `load` of params. The four history tensors are
//! always present (possibly with zero rows), which lets a resumed run's loss plot continue
//! the curve from the start.
//!
//! [`save`] writes through [`write_atomically`](crate::atomic::write_atomically): a temporary file beside the target, fsync,
//! rename, fsync of the directory. A run killed at any moment (SIGKILL, power cut) leaves
//! either the previous checkpoint or the new one, whole; at worst a stray
//! `.NAME.XXXXXX.tmp` file beside it, which nothing reads.
//!
//! [`load`] checks everything it reads and reports a [`CheckpointError`], never panics: a file
//! that is not safetensors or is truncated, a safetensors file that is not a checkpoint (no
//! `gradc.format`), another format version, a missing or malformed key, an impossible
//! generator state. [`load_for_program`] also refuses a checkpoint of another program.

use crate::rng::{Rng, STATE_WORDS};
use crate::safetensors_io::{self, NamedTensors};
use crate::tensor::{Buffer, Tensor};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The format version this code writes and the only one it reads.
pub const FORMAT_VERSION: &str = "1";

/// Metadata key: the format version, [`FORMAT_VERSION`].
pub const KEY_FORMAT: &str = "gradc.format";
/// Metadata key: steps completed.
pub const KEY_STEP: &str = "gradc.step";
/// Metadata key: the random generator's state.
pub const KEY_RNG: &str = "gradc.rng";
/// Metadata key: the program's fingerprint.
pub const KEY_PROGRAM: &str = "gradc.program";

/// Prefix of the optimizer's tensors.
pub const OPTIMIZER_PREFIX: &str = "optimizer/";
/// Prefix of the loss-history tensors.
pub const HISTORY_PREFIX: &str = "history/";

const TRAIN_STEP: &str = "history/train/step";
const TRAIN_LOSS: &str = "history/train/loss";
const VALIDATION_STEP: &str = "history/validation/step";
const VALIDATION_LOSS: &str = "history/validation/loss";

/// Everything a resumed run needs. See the module docs for the file layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Steps completed: the resumed run's next step is `step + 1` (counting from 1).
    pub step: u64,
    /// The params, by name. [`load`] returns them sorted by name.
    pub params: Vec<(String, Tensor)>,
    /// The optimizer's state, by the optimizer's own names (without the `optimizer/`
    /// prefix). [`load`] returns them sorted by name.
    pub optimizer: Vec<(String, Tensor)>,
    /// The random generator's state, [`Rng::state`].
    pub rng: [u64; STATE_WORDS],
    /// The fingerprint of the program (the caller's hash string). Must not be empty.
    pub program: String,
    /// The logged training loss so far, as `(step, loss)`, so that the plot of a resumed
    /// run continues the curve. Non-finite values are kept as they are.
    pub train_history: Vec<(u64, f64)>,
    /// The logged validation loss so far, as `(step, loss)`.
    pub validation_history: Vec<(u64, f64)>,
}

impl Checkpoint {
    /// The generator this checkpoint resumes. Always `Some` for a checkpoint from [`load`],
    /// which checks the state.
    pub fn rng(&self) -> Option<Rng> {
        Rng::from_state(self.rng)
    }
}

/// A failed [`save`] or [`load`]: the file and what is wrong, in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointError {
    /// The file cannot be read, or is not a (complete) safetensors file.
    Read { path: PathBuf, message: String },
    /// A safetensors file without `gradc.format`: a params file, or another tool's.
    NotACheckpoint { path: PathBuf },
    /// A checkpoint of another format version than [`FORMAT_VERSION`].
    Version { path: PathBuf, found: String },
    /// A required metadata key or history tensor is absent.
    Missing { path: PathBuf, key: String },
    /// A key or tensor is present but its value is malformed.
    Invalid { path: PathBuf, key: String, message: String },
    /// [`load_for_program`]: the checkpoint was written by another program.
    OtherProgram { path: PathBuf, found: String, expected: String },
    /// The file cannot be written, or the checkpoint cannot be laid out (name clashes).
    Write { path: PathBuf, message: String },
}

impl CheckpointError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            CheckpointError::Read { path, .. }
            | CheckpointError::NotACheckpoint { path }
            | CheckpointError::Version { path, .. }
            | CheckpointError::Missing { path, .. }
            | CheckpointError::Invalid { path, .. }
            | CheckpointError::OtherProgram { path, .. }
            | CheckpointError::Write { path, .. } => path,
        }
    }
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path().display();
        match self {
            CheckpointError::Read { message, .. } => {
                write!(f, "cannot read checkpoint `{p}`: {message}")
            }
            CheckpointError::NotACheckpoint { .. } => write!(
                f,
                "`{p}` is a safetensors file but not a gradc checkpoint (its metadata has no \
                 `{KEY_FORMAT}`); params files are read with `load`, not `--resume`"
            ),
            CheckpointError::Version { found, .. } => write!(
                f,
                "checkpoint `{p}` has format version {found:?}; this gradc reads version \
                 {FORMAT_VERSION}"
            ),
            CheckpointError::Missing { key, .. } => {
                write!(f, "checkpoint `{p}` is incomplete: it has no `{key}`")
            }
            CheckpointError::Invalid { key, message, .. } => {
                write!(f, "checkpoint `{p}` is corrupt: `{key}` {message}")
            }
            CheckpointError::OtherProgram { found, expected, .. } => write!(
                f,
                "checkpoint `{p}` was written by another program (fingerprint {found}, this \
                 program's is {expected}); resume it with the program that wrote it"
            ),
            CheckpointError::Write { message, .. } => {
                write!(f, "cannot write checkpoint `{p}`: {message}")
            }
        }
    }
}

impl std::error::Error for CheckpointError {}

/// Writes `ckpt` to `path` atomically (see the module docs), replacing any file there.
///
/// Errors: a param name that is empty, `__metadata__`, or starts with `optimizer/` or
/// `history/`; two params or two optimizer entries of the same name; an empty program
/// fingerprint; and anything the file system refuses (missing directory, full disk, …). On
/// error any previous file at `path` is untouched.
pub fn save(path: &Path, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
    let werr = |message: String| CheckpointError::Write { path: path.to_path_buf(), message };

    if ckpt.program.is_empty() {
        return Err(werr("the program fingerprint is empty".to_string()));
    }
    for (name, _) in &ckpt.params {
        if name.is_empty() {
            return Err(werr("a param has an empty name".to_string()));
        }
        if name.starts_with(OPTIMIZER_PREFIX) || name.starts_with(HISTORY_PREFIX) {
            return Err(werr(format!(
                "the param name `{name}` starts with `{OPTIMIZER_PREFIX}` or \
                 `{HISTORY_PREFIX}`, which checkpoints reserve"
            )));
        }
    }

    let optimizer_names: Vec<String> =
        ckpt.optimizer.iter().map(|(n, _)| format!("{OPTIMIZER_PREFIX}{n}")).collect();
    let (train_steps, train_losses) = history_tensors(&ckpt.train_history);
    let (val_steps, val_losses) = history_tensors(&ckpt.validation_history);

    let mut tensors: Vec<(&str, &Tensor)> =
        Vec::with_capacity(ckpt.params.len() + ckpt.optimizer.len() + 4);
    tensors.extend(ckpt.params.iter().map(|(n, t)| (n.as_str(), t)));
    tensors.extend(
        optimizer_names.iter().map(String::as_str).zip(ckpt.optimizer.iter().map(|(_, t)| t)),
    );
    tensors.extend([
        (TRAIN_STEP, &train_steps),
        (TRAIN_LOSS, &train_losses),
        (VALIDATION_STEP, &val_steps),
        (VALIDATION_LOSS, &val_losses),
    ]);

    let rng = ckpt.rng.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let metadata = HashMap::from([
        (KEY_FORMAT.to_string(), FORMAT_VERSION.to_string()),
        (KEY_STEP.to_string(), ckpt.step.to_string()),
        (KEY_RNG.to_string(), rng),
        (KEY_PROGRAM.to_string(), ckpt.program.clone()),
    ]);

    // `safetensors_io::save` checks duplicate and reserved names and writes atomically; its
    // messages are reused, without its own "cannot save `path`" prefix.
    safetensors_io::save(path, &tensors, Some(metadata)).map_err(|e| werr(e.message))
}

/// The two history tensors for a `(step, loss)` series.
fn history_tensors(series: &[(u64, f64)]) -> (Tensor, Tensor) {
    // Steps beyond i64::MAX cannot occur in practice (2⁶³ steps); saturate rather than wrap.
    let steps: Vec<i64> =
        series.iter().map(|&(s, _)| i64::try_from(s).unwrap_or(i64::MAX)).collect();
    let losses: Vec<f64> = series.iter().map(|&(_, l)| l).collect();
    let n = series.len();
    (
        Tensor::new(vec![n], Buffer::I64(steps)).expect("n elements for shape [n]"),
        Tensor::new(vec![n], Buffer::F64(losses)).expect("n elements for shape [n]"),
    )
}

/// Reads a checkpoint written by [`save`] (or by any tool following the layout in the
/// module docs). Params and optimizer entries come back sorted by name.
pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let (tensors, metadata) = safetensors_io::load_with_metadata(path)
        .map_err(|e| CheckpointError::Read { path: path.to_path_buf(), message: e.message })?;
    from_parts(path, tensors, metadata)
}

/// [`load`], then refuses the checkpoint unless its program fingerprint is `program`:
/// what `gradc run --resume` uses.
pub fn load_for_program(path: &Path, program: &str) -> Result<Checkpoint, CheckpointError> {
    let ckpt = load(path)?;
    if ckpt.program != program {
        return Err(CheckpointError::OtherProgram {
            path: path.to_path_buf(),
            found: ckpt.program,
            expected: program.to_string(),
        });
    }
    Ok(ckpt)
}

fn from_parts(
    path: &Path,
    tensors: NamedTensors,
    metadata: HashMap<String, String>,
) -> Result<Checkpoint, CheckpointError> {
    let path_buf = || path.to_path_buf();
    let missing = |key: &str| CheckpointError::Missing { path: path_buf(), key: key.to_string() };
    let invalid = |key: &str, message: String| CheckpointError::Invalid {
        path: path_buf(),
        key: key.to_string(),
        message,
    };

    let format =
        metadata.get(KEY_FORMAT).ok_or(CheckpointError::NotACheckpoint { path: path_buf() })?;
    if format != FORMAT_VERSION {
        return Err(CheckpointError::Version { path: path_buf(), found: format.clone() });
    }

    let meta = |key: &str| metadata.get(key).ok_or_else(|| missing(key));
    let step_text = meta(KEY_STEP)?;
    let step: u64 = parse_decimal(step_text)
        .ok_or_else(|| invalid(KEY_STEP, format!("is {step_text:?}, not a step count")))?;

    let rng_text = meta(KEY_RNG)?;
    let words: Vec<u64> =
        rng_text.split(',').map(parse_decimal).collect::<Option<_>>().ok_or_else(|| {
            invalid(KEY_RNG, format!("is {rng_text:?}, not comma-separated integers"))
        })?;
    let rng: [u64; STATE_WORDS] = words.try_into().map_err(|w: Vec<u64>| {
        invalid(KEY_RNG, format!("has {} words; the generator's state is {STATE_WORDS}", w.len()))
    })?;
    if Rng::from_state(rng).is_none() {
        return Err(invalid(KEY_RNG, "is not a state the generator can be in".to_string()));
    }

    let program = meta(KEY_PROGRAM)?.clone();
    if program.is_empty() {
        return Err(invalid(KEY_PROGRAM, "is empty".to_string()));
    }

    let mut params = Vec::new();
    let mut optimizer = Vec::new();
    let mut history: HashMap<String, Tensor> = HashMap::new();
    for (name, t) in tensors {
        if let Some(rest) = name.strip_prefix(OPTIMIZER_PREFIX) {
            optimizer.push((rest.to_string(), t));
        } else if name.starts_with(HISTORY_PREFIX) {
            // Unknown `history/…` entries (from a later version's additions) are ignored.
            history.insert(name, t);
        } else {
            params.push((name, t));
        }
    }

    let mut series = |step_key: &str, loss_key: &str| -> Result<Vec<(u64, f64)>, CheckpointError> {
        let steps = history.remove(step_key).ok_or_else(|| missing(step_key))?;
        let losses = history.remove(loss_key).ok_or_else(|| missing(loss_key))?;
        let steps = match (steps.shape(), steps.as_i64()) {
            ([_], Some(v)) => v,
            _ => {
                return Err(invalid(
                    step_key,
                    format!("is {}{:?}; it must be a vector of i64", steps.dtype(), steps.shape()),
                ))
            }
        };
        let losses = match (losses.shape(), losses.as_f64()) {
            ([_], Some(v)) => v,
            _ => {
                return Err(invalid(
                    loss_key,
                    format!(
                        "is {}{:?}; it must be a vector of f64",
                        losses.dtype(),
                        losses.shape()
                    ),
                ))
            }
        };
        if steps.len() != losses.len() {
            return Err(invalid(
                loss_key,
                format!("has {} entries but `{step_key}` has {}", losses.len(), steps.len()),
            ));
        }
        steps
            .iter()
            .zip(losses)
            .map(|(&s, &l)| {
                u64::try_from(s)
                    .map(|s| (s, l))
                    .map_err(|_| invalid(step_key, format!("holds the negative step {s}")))
            })
            .collect()
    };
    let train_history = series(TRAIN_STEP, TRAIN_LOSS)?;
    let validation_history = series(VALIDATION_STEP, VALIDATION_LOSS)?;

    Ok(Checkpoint { step, params, optimizer, rng, program, train_history, validation_history })
}

/// A plain decimal `u64`: digits only (no sign, no spaces), as [`save`] writes it.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
