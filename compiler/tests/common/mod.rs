//! Shared helpers of the integration tests in `compiler/tests`: `mod common;` in a test file
//! brings them in. Each test file compiles its own copy and uses only part of it.
#![allow(dead_code)]

pub mod gen;
