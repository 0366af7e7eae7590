//! The derivative conventions of LANGUAGE.md §7 at non-smooth points, and named derived
//! functions (`fn df = grad(f);`), through the whole pipeline.

use gradc::compiler::check::check_source;
use gradc::run::{run, RunOptions};

fn output(src: &str) -> String {
    let checked = check_source("conventions.gd", src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    let mut out = Vec::new();
    if let Err(d) = run(&checked, &RunOptions::default(), &mut out) {
        panic!("{}", d.render(&checked.sources, false));
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn kinks_follow_the_documented_conventions() {
    let out = output(
        "print grad(relu)(0.0), grad(abs)(0.0), grad(floor)(1.5), grad(ceil)(1.5), grad(sign)(0.5);\n\
         print grad(|x: f64| max(x, 1.0))(1.0), grad(|x: f64| min(1.0, x))(1.0);\n\
         print grad(|x: f64| if x > 0.0 { x * x } else { -x })(0.0), grad(|x: f64| f64(x > 0.0) * x)(2.0);\n\
         print grad(|x: f64| f64(i64(x * 3.0)))(0.3), grad(|x: f64[3]| max(x))([1.0, 3.0, 3.0]);\n",
    );
    // relu'(0) = 0, abs'(0) = 0; floor, ceil, sign, comparisons and i64 give zero;
    // at a tie `max`/`min` take the first argument's derivative; `if` the taken branch's;
    // a `max` reduction averages the tied elements (as JAX does).
    assert_eq!(out, "0.0 0.0 0.0 0.0 0.0\n1.0 0.0\n-1.0 1.0\n0.0 [0.0, 0.5, 0.5]\n");
}

#[test]
fn named_derived_functions_compose() {
    let out = output("fn f(x: f64) -> f64 { x ^ 3 }\nfn df = grad(f);\nfn d2f = grad(df);\nprint df(2.0), d2f(2.0), grad(d2f)(2.0), grad(grad(grad(grad(f))))(0.0);\n");
    // x³ at 2: 12, 12, 6; the 4th derivative is 0 (and the 3rd at 0 is 6, not 0: the known
    // integer-power bug elsewhere).
    assert_eq!(out, "12.0 12.0 6.0 0.0\n");
    let out = output("fn f(x: f64) -> f64 { x ^ 3 }\nprint grad(grad(grad(f)))(0.0);\n");
    assert_eq!(out, "6.0\n");
}

#[test]
fn taylor_mode_follows_the_same_conventions_at_every_order() {
    let out = output(
        "fn m() -> f64[3] { let v: f64[3] = [1.0, 2.0, 4.0]; taylor(|x: f64[3]| max(x), order = 2)([1.0, 3.0, 3.0], v) }\n\
         print diff(relu, 1)(0.0), diff(abs, 2)(0.0), diff(floor, 1)(1.5), diff(sign, 2)(0.5);\n\
         print diff(|x: f64| max(x, 1.0), 1)(1.0), diff(|x: f64| min(1.0, x), 1)(1.0);\n\
         print m(), diff(|x: f64| x ^ 3, 3)(0.0);\n",
    );
    // As in first order, and every higher coefficient follows the same branch; a `max`
    // reduction at a tie averages the tied elements' coefficients; `x ^ 3` is exact at 0.
    assert_eq!(out, "0.0 0.0 0.0 0.0\n1.0 0.0\n[3.0, 3.0, 0.0] 6.0\n");
}
