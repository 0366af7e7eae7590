//! The `gradc` crate: the gd compiler as a library. Besides the CLI's pieces ([`run`],
//! [`repl`], and the [`compiler`] and [`runtime`] crates re-exported), it offers an embedding
//! API ([`embed`], its types re-exported here): load a gd program, look its functions up,
//! derive new ones with the derivative operators, compile them to native code once and call
//! them with [`Tensor`](runtime::tensor::Tensor)s as often as needed.
//!
//! ```
//! use gradc::runtime::tensor::{Buffer, Tensor};
//! use gradc::Program;
//!
//! # fn main() -> gradc::Result<()> {
//! let program = Program::from_source(
//!     "param w: f64[2] = [1.0, 2.0];
//!      fn f(x: f64[2]) -> f64 { sum(w * x ^ 2) }",
//! )?;
//! let f = program.function("f")?;
//! assert_eq!(f.signature().to_string(), "(f64[2]) -> f64");
//!
//! // Derive in Rust, compile once (the Cranelift JIT by default), call with tensors.
//! let grad = f.grad()?.compile()?;
//! let x = Tensor::new(vec![2], Buffer::F64(vec![3.0, -1.0])).unwrap();
//! let g = grad.call(&[x.clone()])?;
//! assert_eq!(g[0].to_f64_vec(), [6.0, -4.0]); // 2 w x
//!
//! // Params are read and set by name; every kernel sees the new values.
//! program.set_param("w", Tensor::new(vec![2], Buffer::F64(vec![0.5, 0.5])).unwrap())?;
//! assert_eq!(grad.call(&[x.clone()])?[0].to_f64_vec(), [3.0, -1.0]);
//!
//! // Mistakes are errors with the CLI's diagnostics, never panics.
//! let err = grad.call(&[Tensor::scalar_f64(1.0)]).unwrap_err();
//! assert_eq!(err.code().unwrap().to_string(), "E031");
//! let err = Program::from_source("fn f(x: f64) -> f64 { x + y }").err().unwrap();
//! assert!(err.to_string().contains("unknown name `y`"));
//! # Ok(())
//! # }
//! ```
//!
//! `examples/embed.rs` (`cargo run --release --example embed`) trains a model in a Rust
//! loop; README.md's "Embedding" section gives the overview.

pub use gradc_compiler as compiler;
pub use gradc_runtime as runtime;
pub mod embed;
pub mod repl;
pub mod run;

pub use embed::{tensor, Error, ErrorKind, Function, Kernel, Options, Program, Result, Signature};
pub use run::Backend;
