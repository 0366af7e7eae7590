//! The front end never panics, hangs or overflows its stack, whatever it is given: random
//! token streams, random mutations of valid programs, and pathological sizes.
//!
//! The case counts are sized for CI; `PROPTEST_CASES=100000 cargo test --release --test
//! robustness` is the longer run for release checks.

use gradc::compiler::check::check_source;
use proptest::prelude::*;

/// Valid programs to mutate.
const SEEDS: &[&str] = &[
    include_str!("../examples/linear.gd"),
    r#"
use nn;
const N = 4;
param w: f32[N, 3] = glorot();
param b: f32[3] = zeros();
fn layer[B](x: f32[B, N]) -> f32[B, 3] { relu(x @ w + b) }
fn f[F: float, ..S](x: F[..S], axis: i64 = -1) -> F[..S] { x - logsumexp(x) }
fn g(x: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..3 { s = s + f64(i) * x; }
    if s > 1 { s ^ 2 } else if s < -1 { -s } else { (|t| sin(t) * t)(s) }
}
fn ste(x: f64) -> f64 { floor(x + 0.5) } with jvp(x, dx) { dx }
fn dg = grad(g);
print "g", g(2.0), dg(1.0), hessian(|v: f64[2]| sum(v ^ 3))([1.0, 2.0]);
print taylor(|t| exp(sin(t)), order = 4)(0.0, 1.0), layer(ones([2, 4], dtype = f32));
assert all(layer(zeros([5, N], dtype = f32)) >= 0);
"#,
];

/// Tokens that random streams are made of: every keyword and punctuation mark, and a few
/// names, numbers and strings, including malformed ones.
const VOCAB: &[&str] = &[
    "use", "const", "param", "data", "fn", "let", "mut", "for", "in", "if", "else", "train", "print",
    "assert", "save", "load", "bench", "with", "true", "false", "(", ")", "[", "]", "{", "}", ",", ";",
    ":", "::", ".", "..", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "@", "%", "^", "!",
    "&", "|", "->", "&&", "||", "x", "f", "N", "T", "f64", "f32[2]", "i64", "bool", "grad", "taylor",
    "order", "wrt", "sum", "axis", "0", "1", "2.5", "1e-3", "1.", "99999999999999999999", "\"s\"",
    "\"unterminated", "/*", "*/", "//", "$", "é", "\u{0}", "0..4", "x.T", "nn::dense",
];

fn check(src: &str) {
    let checked = check_source("fuzz.gd", src, std::env::temp_dir());
    // Rendering must not panic either, whatever the spans.
    let _ = checked.render(false);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_token_streams(tokens in prop::collection::vec(prop::sample::select(VOCAB), 0..120), sep in prop::sample::select(vec![" ", "", "\n"])) {
        check(&tokens.join(sep));
    }

    #[test]
    fn random_mutations_of_valid_programs(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec((0usize..4, any::<prop::sample::Index>(), any::<prop::sample::Index>(), prop::sample::select(VOCAB)), 1..6),
    ) {
        let mut src: Vec<u8> = SEEDS[seed].as_bytes().to_vec();
        for (kind, a, b, tok) in edits {
            if src.is_empty() {
                src.extend_from_slice(tok.as_bytes());
                continue;
            }
            let (i, j) = { let (i, j) = (a.index(src.len()), b.index(src.len())); (i.min(j), i.max(j)) };
            match kind {
                0 => { src.drain(i..j.min(i + 40)); }
                1 => { let piece = src[i..j.min(i + 40)].to_vec(); src.splice(j..j, piece); }
                2 => { src.splice(i..i, tok.bytes()); }
                _ => { src.swap(i, j); }
            }
        }
        // Mutations may split a UTF-8 sequence: the checker must report that, not panic.
        let checked = gradc::compiler::check::check_source("fuzz.gd", &String::from_utf8_lossy(&src), std::env::temp_dir());
        let _ = checked.render(false);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [255, 5_000, 100_000] {
        let src = format!("print {}1{};", "(".repeat(depth), ")".repeat(depth));
        check(&src);
    }
    check(&format!("print {}1;", "-".repeat(100_000)));
    check(&format!("print 1{};", " + 1".repeat(100_000)));
    check(&format!("print 2{};", " ^ 2".repeat(100_000)));
    check(&format!("print {}0{};", "[".repeat(5_000), "]".repeat(5_000)));
    check(&format!("fn f(x: f64) -> f64 {{ {} x {} }}", "{".repeat(5_000), "}".repeat(5_000)));
}

#[test]
fn a_ten_megabyte_file() {
    let line = "fn net(x: f64[3]) -> f64 { sum(tanh(x) * x) + 1.0 } // a comment\n";
    let mut src = String::new();
    let mut i = 0;
    while src.len() < 10 << 20 {
        src.push_str(&line.replace("fn net", &format!("fn net{i}")));
        i += 1;
    }
    let start = std::time::Instant::now();
    let checked = check_source("big.gd", &src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    eprintln!("checked a {} byte file with {i} functions in {:?}", src.len(), start.elapsed());
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gd");
    std::fs::write(&path, b"print 1;\nprint \"\xff\xfe\";\n").unwrap();
    let checked = gradc::compiler::check::check_file(&path).unwrap();
    assert_eq!(checked.diags.len(), 1);
    assert_eq!(checked.diags[0].code.0, "E007");
}
