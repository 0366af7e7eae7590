//! Graph-to-graph transforms. Each builds a new graph from the old one (see `ir::graph`).
//!
//! Architecture Invariant: a pass emits only ops of the op table, so every pass composes
//! with every other, to any depth.

pub mod simplify;
pub mod emit;
pub mod jvp;
pub mod taylor;
pub mod transpose;
pub mod inline;
pub mod rgrad;
pub mod vmap;
