//! gradc's runtime: the bottom layer, below the compiler. Data files (CSV, NPY), the
//! portable random generator, tensors, safetensors `save`/`load` (written atomically) and
//! `bench` timing now; optimizers, the train loop and checkpoints as they land.

pub mod atomic;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod format;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod tensor;
pub mod rng;
pub mod safetensors_io;
