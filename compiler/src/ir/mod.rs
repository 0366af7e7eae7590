//! The intermediate representation: one graph of primitive ops per function.
//!
//! - [`op`]: the op table (every primitive, its attributes and type rule);
//! - [`scalar`]: the elementwise semantics of each op on one element, per element type;
//! - [`graph`]: the graph on petgraph, append-only, index order topological;
//! - [`verify`]: its invariants, checked after every pass in tests;
//! - [`print`]: the text form that `gradc ir` shows (documented in docs/ir.md).

pub mod graph;
pub mod op;
pub mod print;
pub mod scalar;
pub mod verify;

pub use graph::{Graph, Node, NodeId};
pub use op::{BinaryOp, Op, ReduceOp, Source, Type, UnaryOp};
