//! The `gradc` facade: embed the gd compiler in a Rust program.
pub use gradc_compiler as compiler;
pub use gradc_runtime as runtime;
pub mod run;
pub mod repl;
