//! The JIT against the interpreter on random programs of the derivative checks' generator, in
//! f64 and in f32 (the same programs with every `f64` spelled `f32`), each as written and
//! differentiated (`grad`, `value_and_grad`, `jvp`).
//!
//! Agreement is checked within a tolerance relative to the largest magnitude of the result:
//! the GEMM sums in its own order and the JIT's transcendental functions are approximations
//! with documented ulp bounds (compiler/tests/jit.rs checks the bitwise cases op by op).
//! `JIT_RANDOM_CASES=N` runs a longer campaign.

mod common;

use common::gen::{generate, GenOptions};
use gradc_compiler::check::check_source;
use gradc_compiler::check::hir::{FnId, Program, Transform};
use gradc_compiler::codegen;
use gradc_compiler::interp::{self, Inputs};
use gradc_compiler::ir::{Graph, Source};
use gradc_compiler::lower;
use gradc_compiler::passes::simplify::simplify;
use gradc_runtime::tensor::{DType, Tensor};

fn program(source: &str) -> Option<Program> {
    let checked = check_source("gen.gd", source, std::env::temp_dir());
    checked.is_ok().then_some(checked.program)
}

/// Arguments for every `Arg` input of `g`, deterministic, in [-1, 1].
fn args_for(g: &Graph, seed: u64) -> Vec<Tensor> {
    let mut args: Vec<(u32, Tensor)> = g
        .inputs()
        .filter_map(|(n, s)| match s {
            Source::Arg(k) => {
                let ty = g.ty(n);
                let values: Vec<f64> = (0..ty.len())
                    .map(|i| {
                        let h = (seed ^ (k as u64) << 32 ^ i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        ((h >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
                    })
                    .collect();
                Some((k, Tensor::from_f64s(ty.dtype, ty.shape.clone(), &values).unwrap()))
            }
            _ => None,
        })
        .collect();
    args.sort_by_key(|(k, _)| *k);
    // Inputs the simplifier removed still take a place: fill the gaps with scalars.
    let n = args.last().map_or(0, |(k, _)| *k as usize + 1);
    (0..n)
        .map(|k| args.iter().find(|(j, _)| *j as usize == k).map(|(_, t)| t.clone()).unwrap_or_else(|| Tensor::scalar_f64(0.0)))
        .collect()
}

fn compare(g: &Graph, seed: u64, tol: f64, what: &str) -> Result<(), String> {
    let args = args_for(g, seed);
    let inputs = Inputs { args: &args, params: &[], data: &[] };
    let want = interp::run(g, &inputs).map_err(|(_, e)| format!("{what}: the interpreter failed: {e}"))?;
    let kernel = codegen::compile(g).map_err(|e| format!("{what}: does not compile: {e}"))?;
    let got = kernel.run(&inputs).map_err(|(_, e)| format!("{what}: the JIT failed: {e}"))?;
    for (w, o) in want.iter().zip(&got) {
        let (a, b) = (w.to_f64_vec(), o.to_f64_vec());
        let scale = a.iter().chain(&b).fold(1.0f64, |m, x| if x.is_finite() { m.max(x.abs()) } else { m });
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let same = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tol * scale;
            if !same {
                return Err(format!("{what}: element {i}: interpreter {x}, JIT {y} (scale {scale})"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_jit_agrees_with_the_interpreter_on_random_programs() {
    let n: u64 = std::env::var("JIT_RANDOM_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(150);
    let mut failures = Vec::new();
    let mut f32_programs = 0;
    for seed in 0..n {
        let scalar_out = seed % 2 == 0;
        let p = generate(seed, GenOptions { max_depth: 1 + (seed % 4) as u32, scalar_out, smooth_only: false });
        for (dtype, tol) in [(DType::F64, 1e-9), (DType::F32, 2e-3)] {
            let source = if dtype == DType::F64 { p.source.clone() } else { p.source.replace("f64", "f32") };
            // The f32 spelling is not always gd: `let mut s = 0.0` is f64 whatever follows
            // (docs/language.md). Those programs are checked in f64 only.
            let Some(prog) = program(&source) else {
                assert_eq!(dtype, DType::F32, "a generated program does not check:\n{source}");
                continue;
            };
            f32_programs += usize::from(dtype == DType::F32);
            let id = FnId(prog.fns.iter().position(|f| f.name == "f").expect("f exists") as u32);
            let mut graphs = vec![("f", simplify(&lower::lower_fn(&prog, id).expect("lowers")))];
            let transforms: &[(&str, Transform)] = if scalar_out {
                &[("grad", Transform::Grad { wrt: 0 }), ("value_and_grad", Transform::ValueAndGrad { wrt: 0 }), ("jvp", Transform::Jvp)]
            } else {
                &[("jvp", Transform::Jvp)]
            };
            for (name, t) in transforms {
                graphs.push((name, lower::transform_fn(&prog, id, *t).expect("differentiates")));
            }
            for (name, g) in &graphs {
                if let Err(e) = compare(g, seed, tol, &format!("{name} in {dtype}")) {
                    failures.push(format!("seed {seed}:\n{source}\n  {e}"));
                }
            }
        }
        if failures.len() >= 3 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(f32_programs as u64 * 2 >= n, "only {f32_programs} of {n} programs also run in f32");
    println!("{n} programs in f64, {f32_programs} of them in f32 too");
}
