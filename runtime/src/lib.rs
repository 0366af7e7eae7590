//! gradc's runtime: the bottom layer, below the compiler. Data files (CSV, NPY) now;
//! tensors, optimizers, the train loop and checkpoints as they land.
