//! gradc's compiler: the gd front end (lexer, parser, checker with its diagnostics), and —
//! as they land — the IR, the derivative passes, the interpreter and the Cranelift backend.
//!
//! Data flows one way: source → tokens → AST → checked program → IR → passes → backend.

pub mod diag;
pub mod source;
pub mod syntax;
pub mod check;
pub mod stdlib;
pub mod ir;
pub mod lower;
pub mod passes;
pub mod interp;
pub mod codegen;
