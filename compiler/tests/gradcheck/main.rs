//! Gradient checks (DESIGN.md §5, JAX's `check_grads`) on hand-written programs over the op
//! table and on random programs from the generator:
//!
//! - forward mode against central finite differences (smooth programs);
//! - reverse against forward through ⟨ȳ, J t⟩ = ⟨Jᵀ ȳ, t⟩ (every program: kinks included,
//!   since both modes follow the same conventions);
//! - for scalar results: the Hessian is symmetric and matches finite differences of `grad`,
//!   and forward-over-reverse (`hvp`) equals reverse-over-forward (`grad` of `jvp`);
//! - third derivatives of `s ↦ f(x + s t)` by `grad(grad(grad(…)))` against finite
//!   differences of the second.
//!
//! `GRADCHECK_CASES=20000 cargo test --release -p gradc-compiler --test gradcheck` runs a
//! longer campaign (the release check); the default is sized for CI.

mod harness;
#[path = "../common/mod.rs"]
mod common;

use gradc_compiler::check::hir::{Sig, Transform};
use harness::*;

/// Every check that applies to `source`'s `f` at one random point.
fn check(source: &str, smooth: bool, seed: u64) -> Result<(), String> {
    let (f, sig) = function(source);
    let params = &f.inputs[..f.n_params];
    let mut values = Values::new(seed);
    let x = values.fill(params);
    let t = values.fill(params);

    let jt = jvp(&f, &sig, &x, &t);
    if smooth {
        let fd = central(&f, &x, &t, 1e-6);
        close(&jt, &fd, 1e-5).map_err(|e| format!("forward mode vs finite differences: {e}"))?;
    }

    let ybar = values.fill(&result_types(&sig));
    let jty = vjp(&f, &sig, &x, &ybar);
    let lhs = dot(&flat(&ybar), &jt);
    let rhs = dot(&flat(&jty), &flat(&t));
    close(&[lhs], &[rhs], 1e-10).map_err(|e| format!("⟨ȳ, J t⟩ vs ⟨Jᵀ ȳ, t⟩: {e}"))?;

    let scalar = matches!(&sig.ret, gradc_compiler::check::types::Ty::Tensor(t) if t.shape.is_empty());
    if !scalar {
        return Ok(());
    }
    let n = params[0].len();
    let h = apply(Transform::Hessian { wrt: 0 }, &f, &sig);
    let hess = flat(&eval(&h.graph, &h.inputs, &x));
    let transposed: Vec<f64> = (0..n * n).map(|k| hess[(k % n) * n + k / n]).collect();
    close(&hess, &transposed, 1e-9).map_err(|e| format!("Hessian not symmetric: {e}"))?;
    if smooth {
        let g = apply(Transform::Grad { wrt: 0 }, &f, &sig);
        for j in 0..n {
            let mut e = vec![vec![0.0; n]];
            e[0][j] = 1.0;
            e.extend(params[1..].iter().map(|p| vec![0.0; p.len()]));
            let column = central(&g, &x, &e, 1e-5);
            let expected: Vec<f64> = (0..n).map(|i| hess[i * n + j]).collect();
            close(&expected, &column, 1e-5).map_err(|e| format!("Hessian column {j} vs finite differences of grad: {e}"))?;
        }
    }
    let hvp = apply(Transform::Hvp { wrt: 0 }, &f, &sig);
    let args: Vec<Vec<f64>> = x.iter().chain(&t).cloned().collect();
    let forward_over_reverse = flat(&eval(&hvp.graph, &hvp.inputs, &args));
    let jvp_f = apply(Transform::Jvp, &f, &sig);
    let jvp_sig = Sig { params: [sig.params.clone(), sig.params.clone()].concat(), ret: sig.ret.clone() };
    let reverse_over_forward = apply(Transform::Grad { wrt: 0 }, &jvp_f, &jvp_sig);
    let rof = flat(&eval(&reverse_over_forward.graph, &reverse_over_forward.inputs, &args));
    assert_eq!(forward_over_reverse.len(), rof.len(), "{source}");
    close(&forward_over_reverse, &rof, 1e-9).map_err(|e| format!("forward-over-reverse vs reverse-over-forward: {e}"))?;

    if smooth {
        let (g, gsig) = along(&f, &x, &t);
        let g2 = apply(Transform::Grad { wrt: 0 }, &apply(Transform::Grad { wrt: 0 }, &g, &gsig), &gsig);
        let g3 = apply(Transform::Grad { wrt: 0 }, &g2, &gsig);
        let third = flat(&eval(&g3.graph, &g3.inputs, &[vec![0.0]]));
        let fd = central(&g2, &[vec![0.0]], &[vec![1.0]], 1e-4);
        close(&third, &fd, 1e-5).map_err(|e| format!("grad(grad(grad)) vs finite differences: {e}"))?;
    }
    Ok(())
}

/// Programs over the whole op table, written by hand: each line `smooth?`, then the source.
const PROGRAMS: &[(bool, &str)] = &[
    (true, "fn f(x: f64) -> f64 { sin(x) * exp(x) / (x * x + 1.0) }"),
    (true, "fn f(x: f64[3]) -> f64 { sum(tanh(x) * log(x * x + 1.0) + sigmoid(x) ^ 3) }"),
    (true, "fn f(x: f64[2, 3], y: f64[3]) -> f64[2] { sum(x * y, axis = 1) + prod(cos(x), axis = 1) }"),
    (true, "fn f(x: f64[3], y: f64[3, 2]) -> f64[2] { x @ y + softplus(x) @ (y * y) }"),
    (true, "fn f(x: f64[2, 2]) -> f64 { sum(x @ x.T) + logsumexp(x) + mean(gelu(x)) }"),
    (true, "fn f(x: f64[4]) -> f64 { erf(x[0]) * sqrt(x[1] * x[1] + 2.0) + (x[2] * x[2] + 1.0) ^ tanh(x[3]) }"),
    (true, "fn f(x: f64[2, 3]) -> f64[3, 2] { transpose(x) * 2.0 + reshape(x, [3, 2]) ^ -2 }"),
    (true, "fn f(x: f64[3]) -> f64[6] { concat([exp(x), sin(x[0:3])], axis = 0) }"),
    (true, "fn f(x: f64[3], y: f64) -> f64 { let mut s = 0.0; for i in 0..3 { s = s + x[i] * (y * y + 1.0) ^ f64(i); } s }"),
    (true, "fn f(x: f64[2]) -> (f64, f64[2]) { (sum(x ^ 2), x * tan(0.3 * tanh(x))) }"),
    (true, "fn f(x: f64[3]) -> f64 { let g = |t: f64[3]| sum(sin(t) * t); g(x) * g(2.0 * x) }"),
    (true, "fn f(x: f64[2, 2]) -> f64 { prod(x) + prod(x, axis = 0)[1] }"),
    (true, "fn f(x: f64[2]) -> f64 { sum(stack([x, x * x], axis = 1) @ [1.0, -1.0]) }"),
    (true, "fn f(x: f64[3]) -> f64 { sum(broadcast(x, [2, 3]) * [[1.0], [2.0]]) % 1.7 }"),
    (false, "fn f(x: f64[3], y: f64[3]) -> f64 { sum(max(x, y) + relu(x) * abs(y) + clamp(x, -0.5, 0.5)) }"),
    (false, "fn f(x: f64[3]) -> f64 { if sum(x) > 0.0 { x[argmax(x)] * 2.0 } else { min(x) } }"),
    (false, "fn f(x: f64[3]) -> f64[3] { if x > 0.0 { x * x } else { -x } }"),
    (false, "fn f(x: f64[4]) -> f64 { max(x) * f64(argmax(x)) + floor(x[0]) * x[1] + sign(x[2]) * x[3] }"),
    (true, "fn f(x: f64[3]) -> f64 { let d = [1, 2, 0]; x[d[0]] * x[d[1]] + x[d[2]] }"),
];

#[test]
fn hand_written_programs_pass_every_check() {
    let mut failures = Vec::new();
    for (i, (smooth, src)) in PROGRAMS.iter().enumerate() {
        for seed in 0..4 {
            if let Err(e) = check(src, *smooth, seed * 7 + i as u64) {
                failures.push(format!("program {i} (seed {seed}): {src}\n  {e}"));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Checks that fail when they should: a wrong derivative is caught.
#[test]
fn the_checks_catch_a_wrong_derivative() {
    // A forward rule that is off by a factor of two: forward mode disagrees with the
    // finite differences of the function's own value.
    let src = "fn g(x: f64) -> f64 { x * x } with jvp(x, dx) { 4.0 * x * dx }\nfn f(x: f64) -> f64 { g(x) }";
    let err = check(src, true, 1).expect_err("a wrong rule must fail the finite-difference check");
    assert!(err.contains("finite differences"), "{err}");
}

/// How many random programs each generated-program test checks: `GRADCHECK_CASES`, or a
/// CI-sized default.
fn cases(default: u64) -> u64 {
    std::env::var("GRADCHECK_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Random programs over the whole op table (kinks included: those skip the finite-difference
/// checks), tensor-valued and scalar-valued.
#[test]
fn random_programs_pass_every_check() {
    use common::gen::{generate, GenOptions};
    let mut failures = Vec::new();
    let n = cases(1500);
    for seed in 0..n {
        let scalar_out = seed % 2 == 0;
        let opts = GenOptions { max_depth: 1 + (seed % 4) as u32, scalar_out, smooth_only: seed % 3 == 0 };
        let p = generate(seed, opts);
        if let Err(e) = check(&p.source, p.smooth, seed) {
            failures.push(format!("seed {seed}:\n{}\n  {e}", p.source));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
    println!("{n} random programs pass every check");
}
