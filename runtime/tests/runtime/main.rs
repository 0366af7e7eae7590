//! Tests of the runtime's public API: data files (CSV, NPY), generated data and the RNG.
//! One test binary (submodules), because each binary costs a link on a 2-core machine.

mod csv;
mod generate;
mod npy;
mod rng;

use std::path::PathBuf;
use tempfile::TempDir;

/// Writes `bytes` to `name` in a fresh temporary directory (kept alive by the returned guard).
fn file(name: &str, bytes: impl AsRef<[u8]>) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write test file");
    (dir, path)
}
