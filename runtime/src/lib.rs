//! gradc's runtime: the bottom layer, below the compiler. Data files (CSV, NPY) and the
//! portable random generator now; tensors, optimizers, the train loop and checkpoints as
//! they land.

pub mod data;
pub mod format;
pub mod tensor;
pub mod rng;
