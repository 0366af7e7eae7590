//! Tests of the random program generator (`common/gen.rs`): every generated program checks,
//! lowers, verifies and evaluates to finite values within the generator's bound; smooth
//! programs are smooth; shrinking only makes valid programs and ends small; the generator
//! covers the whole op table. Run with `--nocapture` to see sample programs.

mod common;

use common::gen::{self, GenOptions, GenProgram, ALL_FEATURES, LIMIT};
use gradc_compiler::ir::verify::verify;
use gradc_compiler::passes::simplify::simplify;
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{DType, Tensor};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, rng_seed: RngSeed::Fixed(20_260_601), max_shrink_iters: 4000, ..Config::default() }
}

/// Compiles, verifies and runs `p` on two sets of random arguments; checks the result's type
/// and that every element is finite and within the generator's bound.
fn check_valid(p: &GenProgram) -> Result<(), String> {
    let g = gen::try_compile(p)?;
    verify(&g).map_err(|e| format!("{}\nthe lowered graph does not verify: {e}", p.source))?;
    for seed in [1, 2] {
        let args = gen::random_args(p, seed);
        let out = gen::try_eval(&g, &args).map_err(|e| format!("{}\n{e}", p.source))?;
        check_output(p, &out)?;
    }
    Ok(())
}

fn check_output(p: &GenProgram, out: &[Tensor]) -> Result<(), String> {
    let [t] = out else { return Err(format!("{}\n{} outputs, expected 1", p.source, out.len())) };
    if t.dtype() != DType::F64 || t.shape() != p.out_shape.as_slice() {
        return Err(format!("{}\nresult is {:?}{:?}, expected f64{:?}", p.source, t.dtype(), t.shape(), p.out_shape));
    }
    if p.out_scalar != p.out_shape.is_empty() {
        return Err(format!("{}\nout_scalar disagrees with out_shape", p.source));
    }
    for v in t.to_f64_vec() {
        if !v.is_finite() || v.abs() > LIMIT * (1.0 + 1e-9) {
            return Err(format!("{}\nresult element {v} is not finite or beyond the bound {LIMIT}", p.source));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn generated_programs_check_and_evaluate(p in prop_oneof![gen::program(5, true), gen::program(5, false)]) {
        if let Err(e) = check_valid(&p) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// The non-smooth built-ins, and the comparison operators.
const NON_SMOOTH_CALLS: &[&str] = &["relu", "abs", "sign", "floor", "ceil", "max", "min", "clamp", "argmax"];
const COMPARISONS: &[&str] = &[" > ", " < ", " >= ", " <= ", "if "];

/// The first non-smooth op in `source`, if any: a call of a non-smooth built-in (a whole
/// name: `softmax` is smooth) or a comparison.
fn kink(source: &str) -> Option<String> {
    for name in NON_SMOOTH_CALLS {
        let call = format!("{name}(");
        for (at, _) in source.match_indices(&call) {
            let before = source[..at].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                return Some(call);
            }
        }
    }
    COMPARISONS.iter().find(|c| source.contains(**c)).map(|c| c.to_string())
}

proptest! {
    #![proptest_config(config(100))]

    #[test]
    fn smooth_programs_have_no_kinks(p in prop_oneof![gen::program_smooth(5, true), gen::program_smooth(5, false)]) {
        prop_assert!(p.smooth, "{:?}", p);
        prop_assert_eq!(kink(&p.source), None, "in a smooth program:\n{}", p.source);
        if let Err(e) = check_valid(&p) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn the_smooth_flag_tells_whether_a_program_has_kinks() {
    let opts = GenOptions { max_depth: 4, scalar_out: true, smooth_only: false };
    let mut seen = [false; 2];
    for seed in 0..100 {
        let p = gen::generate(seed, opts);
        assert_eq!(p.smooth, kink(&p.source).is_none(), "{p:?}");
        seen[p.smooth as usize] = true;
    }
    assert_eq!(seen, [true, true], "both smooth and non-smooth programs are generated");
}

#[test]
fn generation_is_deterministic() {
    for seed in 0..20 {
        for opts in [GenOptions { max_depth: 5, scalar_out: false, smooth_only: false }, GenOptions { max_depth: 3, scalar_out: true, smooth_only: true }] {
            assert_eq!(gen::generate(seed, opts).source, gen::generate(seed, opts).source);
        }
    }
    let sources = |_| {
        let mut runner = TestRunner::new(config(1));
        (0..10).map(|_| gen::program(4, false).new_tree(&mut runner).unwrap().current().source).collect::<Vec<_>>()
    };
    assert_eq!(sources(0), sources(1));
}

#[test]
fn random_args_are_seeded_and_bounded() {
    let p = gen::generate(7, GenOptions { max_depth: 3, scalar_out: false, smooth_only: false });
    let a = gen::random_args(&p, 3);
    assert_eq!(a.len(), p.args.len());
    for (t, spec) in a.iter().zip(&p.args) {
        assert_eq!(t.shape(), spec.shape.as_slice());
        assert!(t.to_f64_vec().iter().all(|v| (-2.0..=2.0).contains(v)));
    }
    let b = gen::random_args(&p, 3);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_f64_vec() == y.to_f64_vec()));
}

/// Every construct of the brief shows up in a few hundred programs.
#[test]
fn the_generator_covers_the_op_table() {
    let mut seen = std::collections::BTreeSet::new();
    let mut count = [0usize; 2];
    for seed in 0..400 {
        let opts = GenOptions { max_depth: 5, scalar_out: seed % 2 == 0, smooth_only: seed % 5 == 0 };
        let p = gen::generate(seed, opts);
        count[p.smooth as usize] += 1;
        seen.extend(p.features.iter().copied());
    }
    let missing: Vec<&&str> = ALL_FEATURES.iter().filter(|f| !seen.contains(**f)).collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
    assert!(seen.iter().all(|f| ALL_FEATURES.contains(f)), "{seen:?}");
    println!("smooth / non-smooth programs: {} / {}", count[1], count[0]);
}

/// A random walk through each tree's shrinking (accepting or rejecting each step at random)
/// visits only valid programs; always accepting ends at a one-node program. More trees:
/// `GEN_SHRINK_TREES=1000`.
#[test]
fn shrinking_makes_only_valid_programs() {
    let mut runner = TestRunner::new(config(1));
    let mut walk = Rng::seed_from_u64(11);
    let mut visited = 0;
    let trees: u64 = std::env::var("GEN_SHRINK_TREES").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    for i in 0..trees {
        let strategy = if i % 3 == 0 { gen::program_smooth(5, i % 2 == 0) } else { gen::program(5, i % 2 == 0) };
        let mut tree = strategy.new_tree(&mut runner).unwrap();
        let smooth = tree.current().smooth;
        let mut fails = true;
        for _ in 0..60 {
            let moved = if fails { tree.simplify() } else { tree.complicate() };
            if !moved && !fails {
                break;
            }
            let p = tree.current();
            check_valid(&p).unwrap_or_else(|e| panic!("a shrunk program is invalid:\n{e}"));
            assert!(p.smooth || !smooth, "shrinking a smooth program made it non-smooth:\n{}", p.source);
            visited += 1;
            fails = walk.uniform_f64() < 0.5;
        }
        // Accept every step: the walk ends, at the simplest program.
        let mut steps = 0;
        while tree.simplify() {
            steps += 1;
            assert!(steps < 10_000, "shrinking does not end");
        }
        let p = tree.current();
        check_valid(&p).unwrap_or_else(|e| panic!("the fully shrunk program is invalid:\n{e}"));
        assert_eq!(p.size, 1, "not fully shrunk:\n{}", p.source);
        assert_eq!(p.args.len(), 1, "{}", p.source);
    }
    assert!(visited > 200, "only {visited} shrinking steps were taken");
}

/// proptest's own shrinking, on a property that fails for every program with a matrix
/// product, ends at a small valid program that still has one.
#[test]
fn proptest_shrinks_a_failure_to_a_small_valid_program() {
    for (seed, scalar_out) in [(1, true), (2, false), (3, false)] {
        let mut runner = TestRunner::new(Config { rng_seed: RngSeed::Fixed(seed), ..config(200) });
        let result = runner.run(&gen::program(5, scalar_out), |p| {
            check_valid(&p).map_err(TestCaseError::fail)?;
            prop_assert!(!p.features.iter().any(|f| f.starts_with("matmul")), "has a matmul");
            Ok(())
        });
        let Err(TestError::Fail(why, p)) = result else { panic!("no program with a matmul in 200: {result:?}") };
        assert!(why.message().contains("has a matmul"), "failed for another reason: {why}\n{p:?}");
        check_valid(&p).unwrap();
        println!("shrunk to:\n{}", p.source);
        assert!(p.size <= 6, "not shrunk far ({} nodes): {}", p.size, p.source);
        assert!(!p.source.contains("fn h"), "unused helpers remain: {}", p.source);
    }
}

/// The simplifier keeps every generated program's values (a first differential test).
#[test]
fn simplify_preserves_values() {
    for seed in 0..200 {
        let opts = GenOptions { max_depth: 5, scalar_out: seed % 2 == 0, smooth_only: false };
        let p = gen::generate(1000 + seed, opts);
        let g = gen::compile(&p);
        let s = simplify(&g);
        verify(&s).unwrap_or_else(|e| panic!("{}\nsimplified graph does not verify: {e}", p.source));
        let args = gen::random_args(&p, seed);
        let (a, b) = (gen::eval(&g, &args), gen::eval(&s, &args));
        let (a, b) = (a[0].to_f64_vec(), b[0].to_f64_vec());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()), "{}\nsimplify changed {x} to {y}", p.source);
        }
    }
}

#[test]
fn print_samples() {
    for (seed, opts) in [
        (3, GenOptions { max_depth: 4, scalar_out: true, smooth_only: false }),
        (4, GenOptions { max_depth: 4, scalar_out: false, smooth_only: false }),
        (5, GenOptions { max_depth: 5, scalar_out: true, smooth_only: true }),
        (6, GenOptions { max_depth: 5, scalar_out: false, smooth_only: false }),
    ] {
        let p = gen::generate(seed, opts);
        let g = gen::compile(&p);
        let args = gen::random_args(&p, 0);
        let out = gen::eval(&g, &args);
        println!("---- seed {seed}, {opts:?}, smooth {}, {} IR nodes\n{}", p.smooth, g.len(), p.source);
        println!("features: {:?}", p.features);
        println!("f(random args) = {:?}\n", out[0].to_f64_vec());
    }
}


/// A larger sweep than the property tests, over every option and depth:
/// `GEN_SWEEP=20000 cargo test --release -p gradc-compiler --test gen_programs -- --ignored`.
#[test]
#[ignore]
fn sweep() {
    let n: u64 = std::env::var("GEN_SWEEP").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let mut nodes = Vec::new();
    for seed in 0..n {
        let opts = GenOptions { max_depth: 1 + (seed % 6) as u32, scalar_out: seed % 2 == 0, smooth_only: seed % 3 == 0 };
        let p = gen::generate(seed, opts);
        check_valid(&p).unwrap_or_else(|e| panic!("seed {seed}, {opts:?}:\n{e}"));
        nodes.push(gen::compile(&p).len());
    }
    nodes.sort_unstable();
    println!("IR nodes: median {}, 99th percentile {}, max {}", nodes[nodes.len() / 2], nodes[nodes.len() * 99 / 100], nodes[nodes.len() - 1]);
}

/// Smooth programs are well conditioned for finite differences: central differences along a
/// random direction at two step sizes agree (no pole, kink or steep wall near the inputs).
/// More programs: `GEN_FD_PROGRAMS=5000` (the worst of 5000 was 7.5e-6).
#[test]
fn smooth_programs_are_numerically_differentiable() {
    let mut worst = (0.0, String::new());
    let n: u64 = std::env::var("GEN_FD_PROGRAMS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    for seed in 0..n {
        let p = gen::generate(7000 + seed, GenOptions { max_depth: 5, scalar_out: seed % 2 == 0, smooth_only: true });
        let g = gen::compile(&p);
        let x = gen::random_args(&p, seed);
        let t = gen::random_args(&p, seed + 1);
        let at = |s: f64| -> Vec<f64> {
            let args: Vec<Tensor> = x
                .iter()
                .zip(&t)
                .map(|(a, d)| {
                    let v: Vec<f64> = a.to_f64_vec().iter().zip(d.to_f64_vec()).map(|(a, d)| a + s * d).collect();
                    Tensor::from_f64s(DType::F64, a.shape().to_vec(), &v).unwrap()
                })
                .collect();
            gen::eval(&g, &args)[0].to_f64_vec()
        };
        let fd = |h: f64| -> Vec<f64> { at(h).iter().zip(at(-h)).map(|(a, b)| (a - b) / (2.0 * h)).collect() };
        let (coarse, fine) = (fd(1e-4), fd(1e-6));
        for (c, f) in coarse.iter().zip(&fine) {
            let err = (c - f).abs() / (1.0 + f.abs());
            if err > worst.0 {
                worst = (err, p.source.clone());
            }
        }
    }
    println!("worst disagreement {:e} in\n{}", worst.0, worst.1);
    assert!(worst.0 < 1e-4, "finite differences disagree by {:e}:\n{}", worst.0, worst.1);
}
