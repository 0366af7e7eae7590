//! `vmap` as `gradc run` runs it (the statement runner, on both backends): the vmap lines of
//! examples/derivatives.gd, `vmap` composed with every derivative operator both ways, over
//! params, captures and tuples, and its error paths — everything the checker accepts either
//! runs or stops with a coded diagnostic.

use gradc::compiler::check::check_source;
use gradc::run::{run, Backend, RunOptions};

/// Runs `source` on `backend`: its output, or the code and message of the diagnostic.
fn run_on(source: &str, backend: Backend) -> Result<String, (String, String)> {
    let checked = check_source("vmap.gd", source, std::env::temp_dir());
    if !checked.is_ok() {
        let d = &checked.diags[0];
        return Err((d.code.0.to_string(), d.message.clone()));
    }
    let mut out = Vec::new();
    let options = RunOptions { quiet: true, backend, ..RunOptions::default() };
    let result = run(&checked, &options, &mut out);
    let stdout = String::from_utf8(out).expect("utf-8 output");
    result.map(|()| stdout).map_err(|d| (d.code.0.to_string(), d.message.clone()))
}

fn runs(source: &str) -> String {
    let mut outs = [Backend::Interp, Backend::Jit].map(|b| run_on(source, b).unwrap_or_else(|(c, m)| panic!("[{c}] {m} on {b:?}:\n{source}")));
    assert_eq!(outs[0], outs[1], "the backends print different values:\n{source}");
    std::mem::take(&mut outs[0])
}

#[test]
fn the_vmap_lines_of_the_derivatives_example_run() {
    let example = std::fs::read_to_string("examples/derivatives.gd").expect("the example exists");
    let lines: Vec<&str> = example.lines().filter(|l| l.starts_with("fn cubes") || l.contains("vmap(")).collect();
    assert!(lines.iter().any(|l| l.starts_with("assert") && l.contains("vmap(hessian(cubes))")), "the example still has its vmap lines:\n{}", lines.join("\n"));
    let out = runs(&lines.join("\n"));
    assert!(out.contains("[[[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [0.0, 4.0]]]"), "{out}");
}

/// Each program asserts its own known answers; both backends must agree on what it prints.
const PROGRAMS: &[&str] = &[
    // vmap of derivatives, and derivatives of vmap.
    "fn f(x: f64) -> f64 { x * x * x }
     assert all(vmap(grad(f))([1.0, 2.0, -1.0]) == [3.0, 12.0, 3.0]);
     assert all(grad(|x: f64[3]| sum(vmap(f)(x)))([1.0, 2.0, -1.0]) == [3.0, 12.0, 3.0]);
     assert all(jvp(vmap(f))([1.0, 2.0], [1.0, 0.5]) == [3.0, 6.0]);
     assert all(vmap(jvp(f))([1.0, 2.0], [1.0, 0.5]) == [3.0, 6.0]);
     assert all(vmap(hvp(f))([1.0, 2.0], [1.0, 1.0]) == [6.0, 12.0]);
     assert all(jacobian(vmap(f))([1.0, 2.0]) == [[3.0, 0.0], [0.0, 12.0]]);",
    // Axes, several arguments, tuples, vmap of vmap.
    "fn dot3(a: f64[3], b: f64[3]) -> f64 { sum(a * b) }
     fn both(a: f64[2]) -> (f64, f64[2]) { (sum(a), a * 2.0) }
     const M = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
     assert all(vmap(dot3, axis = 1)(M, M) == [35.0, 56.0]);
     print vmap(both)([[1.0, 2.0], [3.0, 4.0]]);
     assert all(vmap(vmap(|x: f64| x + 1.0))(M) == M + 1.0);
     assert all(vmap(|r: f64[2]| r[argmax(r)])(M) == [2.0, 4.0, 6.0]);",
    // Captures and params stay unbatched; integer and bool arguments.
    "param w: f64[2, 2] = [[1.0, 2.0], [3.0, 4.0]];
     fn model(x: f64[2]) -> f64 { sum(tanh(x @ w)) }
     const XS = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]];
     assert max(abs(vmap(model)(XS) - [model(XS[0]), model(XS[1]), model(XS[2])])) == 0.0;
     fn scaled(k: f64) -> f64[3] { vmap(|x: f64[2]| sum(x) * k)(XS) }
     assert all(scaled(2.0) == [sum(XS[0]) * 2.0, sum(XS[1]) * 2.0, sum(XS[2]) * 2.0]);
     assert all(vmap(|i: i64, b: bool| if b { i * 2 } else { i })([1, 2, 3], [true, false, true]) == [2, 2, 6]);
     assert all(vmap(grad(model))(XS)[1] == grad(model)(XS[1]));",
];

#[test]
fn vmap_composes_with_every_operator_when_run() {
    let outs: Vec<String> = PROGRAMS.iter().map(|p| runs(p)).collect();
    assert!(outs[1].contains("([3.0, 7.0], [[2.0, 4.0], [6.0, 8.0]])"), "a tuple result, each leaf batched: {}", outs[1]);
}

/// Out of range at a batched index is still the run-time error it is per slice; programs the
/// checker rejects are coded diagnostics; nothing panics.
#[test]
fn vmap_errors_are_coded_diagnostics() {
    let cases: &[(&str, &str)] = &[
        ("fn pick(x: f64[3], i: i64) -> f64 { x[i] }\nprint vmap(pick)([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [1, 3]);", "E090"),
        ("fn pick(x: f64[3], i: i64) -> f64 { x[i] }\nprint vmap(pick)([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [-1, 0]);", "E090"),
        ("fn f(x: f64) -> f64 { x }\nprint vmap(f)();", "E029"),
        ("fn f(x: f64[2]) -> f64 { sum(x) }\nprint vmap(f, axis = 2)([[1.0, 2.0]]);", "E066"),
        ("fn f(x: f64, y: f64) -> f64 { x + y }\nprint vmap(f)([1.0, 2.0], [1.0]);", "E066"),
        ("fn f(x: i64) -> i64 { 10 / x }\nprint vmap(f)([1, 0]);", "E091"),
    ];
    for (src, code) in cases {
        for backend in [Backend::Interp, Backend::Jit] {
            match run_on(src, backend) {
                Ok(out) => panic!("runs on {backend:?}, printing {out}:\n{src}"),
                Err((c, m)) => assert_eq!(&c, code, "{m}\n{src}"),
            }
        }
    }
    // The index reported is the first slice's that fails, as when the slices run one by one.
    let (_, m) = run_on("fn pick(x: f64[3], i: i64) -> f64 { x[i] }\nprint vmap(pick)([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [1.0, 1.0, 1.0]], [0, 7, 5]);", Backend::Interp).unwrap_err();
    assert!(m.contains('7') && !m.contains('5'), "{m}");
}
