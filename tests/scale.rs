//! The front end at scale: a generated 10,000-line program (1,000 differently named copies of
//! a 10-line network function, all instantiated) checks with no diagnostics. The elapsed time
//! is printed (`cargo test --release --test scale -- --nocapture`), not asserted: benchmarks
//! are not tests.
//!
//! scripts/gen_big.py writes the same program for timing the `gradc` binary; keep the two in
//! step.

use std::fmt::Write;
use std::time::Instant;

use gradc::compiler::check::check_source;

const COPIES: usize = 1000;
const GROUP: usize = 10;

/// The program of scripts/gen_big.py.
fn program(copies: usize) -> String {
    let mut s = String::new();
    let mut w = |line: &str| {
        s.push_str(line);
        s.push('\n');
    };
    w(&format!("// A generated program: {copies} copies of a 10-line network (scripts/gen_big.py)."));
    w("const D = 16;");
    w("data xs = normal([32, D], seed = 1);");
    for k in 1..=3 {
        w(&format!("param w{k}: f64[D, D] = glorot();"));
        w(&format!("param b{k}: f64[D] = zeros();"));
    }
    w("param w4: f64[D] = glorot();");
    w("fn layer[B, I, O](x: f64[B, I], w: f64[I, O], b: f64[O]) -> f64[B, O] { tanh(x @ w + b) }");
    for i in 0..copies {
        // Python's repr and Rust's Debug both print the shortest form that reads back.
        let scale = (i + 1) as f64 / 1000.0;
        w(&format!("fn net_{i}[B](x: f64[B, D]) -> f64 {{"));
        w("    let h1 = layer(x, w1, b1);");
        w("    let h2 = layer(h1, w2, b2);");
        w("    let g = sigmoid(h2 @ w3 + b3);");
        w(&format!("    let z = g * {scale:?} + h1 * 0.5;"));
        w("    let n = sum(z ^ 2, axis = 1);");
        w(&format!("    let m = mean(n) + max(n) * {scale:?};"));
        w("    let r = if m > 0 { m } else { -m };");
        w("    r + sum(w4 * z[0])");
        w("}");
    }
    let groups = copies.div_ceil(GROUP);
    for g in 0..groups {
        let terms: Vec<String> = (g * GROUP..copies.min((g + 1) * GROUP)).map(|i| format!("net_{i}(x)")).collect();
        w(&format!("fn group_{g}[B](x: f64[B, D]) -> f64 {{ {} }}", terms.join(" + ")));
    }
    let mut total = String::from("print \"total\", ");
    for g in 0..groups {
        if g > 0 {
            total.push_str(" + ");
        }
        let _ = write!(total, "group_{g}(xs)");
    }
    total.push(';');
    w(&total);
    s
}

#[test]
fn ten_thousand_lines_check() {
    let text = program(COPIES);
    let lines = text.lines().count();
    assert!(lines >= 10_000, "the generated program has only {lines} lines");
    let start = Instant::now();
    let checked = check_source("big.gd", &text, std::env::temp_dir());
    let elapsed = start.elapsed();
    assert!(checked.is_ok(), "the generated program does not check:\n{}", checked.render(false));
    eprintln!("checked a {lines}-line program ({COPIES} network functions) in {:.1} ms", elapsed.as_secs_f64() * 1e3);
}

#[test]
fn generated_program_is_well_formed_at_small_sizes() {
    // The generator's edge cases: one copy, and a partial last group.
    for copies in [1, 15] {
        let checked = check_source("small.gd", &program(copies), std::env::temp_dir());
        assert!(checked.is_ok(), "{copies} copies:\n{}", checked.render(false));
    }
}
