//! The `gradc` facade: embed the gd compiler in a Rust program.
pub use gradc_compiler as compiler;
pub use gradc_runtime as runtime;
pub mod embed;
pub mod repl;
pub mod run;

pub use embed::{tensor, Error, ErrorKind, Function, Kernel, Options, Program, Result, Signature};
pub use run::Backend;
