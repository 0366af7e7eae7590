//! The embedding API (`gradc::Program`, `Function`, `Kernel`): loading and its errors,
//! signatures, both backends, derivatives against finite differences, params, a training
//! loop written in Rust, argument and run-time errors, and kernels compiled and dropped in
//! bounded memory.

use gradc::compiler::check::types::{Elem, Ty};
use gradc::runtime::tensor::{Buffer, DType, Tensor};
use gradc::{tensor, Backend, ErrorKind, Options, Program};

const PROGRAM: &str = r#"
param w: f64[3] = [1.0, -2.0, 0.5];
param b: f64 = 0.25;
fn f(x: f64[3]) -> f64 { sum(w * x ^ 2) + b * sum(sin(x)) }
fn g(x: f64[3], y: f64) -> f64[3] { x * y + exp(x) }
fn pick(x: f64[3], i: i64) -> f64 { x[i] }
fn h(t: f64) -> f64 { exp(2 * t) * cos(t) }
fn df = grad(f);
fn mean_sq[N](v: f64[N]) -> f64 { mean(v ^ 2) }
"#;

fn v3(a: [f64; 3]) -> Tensor {
    Tensor::new(vec![3], Buffer::F64(a.to_vec())).unwrap()
}

fn s(x: f64) -> Tensor {
    Tensor::scalar_f64(x)
}

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn the_api_types_are_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Program>();
    both::<gradc::Function>();
    both::<gradc::Kernel>();
    both::<gradc::Error>();
}

#[test]
fn check_errors_carry_the_diagnostics() {
    let e = Program::from_source("fn f(x: f64) -> f64 { x + y }").err().expect("an unknown name");
    assert_eq!(e.kind(), ErrorKind::Check);
    assert_eq!(e.code().map(|c| c.0), Some("E020"));
    let text = e.to_string();
    assert!(text.contains("E020") && text.contains("x + y") && !text.contains('\u{1b}'), "{text}");
    let e = Program::from_source("fn f(x: f64 -> f64 { x }").err().expect("a syntax error");
    assert_eq!(e.kind(), ErrorKind::Check);
    assert!(e.code().is_some_and(|c| c.0.starts_with("E01")), "{e}");
    let e = Program::from_file("/nonexistent/nothing.gd").err().expect("no file");
    assert_eq!(e.kind(), ErrorKind::Io);
}

#[test]
fn signatures_of_declared_derived_and_generic_functions() {
    let p = Program::from_source(PROGRAM).unwrap();
    assert_eq!(p.function("f").unwrap().signature().to_string(), "(f64[3]) -> f64");
    assert_eq!(p.function("g").unwrap().signature().to_string(), "(f64[3], f64) -> f64[3]");
    assert_eq!(p.function("df").unwrap().signature().to_string(), "(f64[3]) -> f64[3]");
    let f = p.function("f").unwrap();
    assert_eq!(f.value_and_grad().unwrap().signature().to_string(), "(f64[3]) -> (f64, f64[3])");
    assert_eq!(f.hessian().unwrap().signature().to_string(), "(f64[3]) -> f64[3, 3]");
    assert_eq!(f.jvp().unwrap().signature().to_string(), "(f64[3], f64[3]) -> f64");
    let g = p.function("g").unwrap();
    assert_eq!(g.jacobian().unwrap().signature().to_string(), "(f64[3], f64) -> f64[3, 3]");
    assert_eq!(g.vjp().unwrap().signature().to_string(), "(f64[3], f64, f64[3]) -> (f64[3], f64)");
    assert_eq!(f.vmap(5).unwrap().signature().to_string(), "(f64[5, 3]) -> f64[5]");
    assert_eq!(p.function("h").unwrap().taylor(3).unwrap().signature().to_string(), "(f64, f64) -> f64[4]");
    let m = p.function_at("mean_sq", &[tensor(Elem::F64, &[4])]).unwrap();
    assert_eq!(m.signature().args, vec![Ty::Tensor(gradc::compiler::check::types::TensorTy { elem: Elem::F64, shape: vec![4] })]);
    // Generic without types, unknown names, and operators that do not apply are errors.
    assert_eq!(p.function("mean_sq").err().unwrap().code().unwrap().0, "E029");
    assert_eq!(p.function("nope").err().unwrap().code().unwrap().0, "E020");
    let e = g.grad().err().expect("g is not scalar");
    assert_eq!(e.kind(), ErrorKind::Check);
    assert_eq!(e.code().unwrap().0, "E060", "{e}");
}

#[test]
fn both_backends_agree_and_match_the_formula() {
    let p = Program::from_source(PROGRAM).unwrap();
    let f = p.function("g").unwrap();
    let jit = f.compile_with(Backend::Jit).unwrap();
    let interp = f.compile_with(Backend::Interp).unwrap();
    let args = [v3([0.5, -1.0, 2.0]), s(3.0)];
    let a = f64s(&jit.call(&args).unwrap()[0]);
    let b = f64s(&interp.call(&args).unwrap()[0]);
    close(&a, &b, 1e-14);
    close(&a, &[0.5 * 3.0 + 0.5f64.exp(), -3.0 + (-1.0f64).exp(), 6.0 + 2.0f64.exp()], 1e-14);
}

/// Central differences of a scalar kernel along each coordinate of its first argument.
fn finite_diff(k: &gradc::Kernel, x: [f64; 3]) -> Vec<f64> {
    let h = 1e-6;
    (0..3)
        .map(|i| {
            let (mut up, mut dn) = (x, x);
            up[i] += h;
            dn[i] -= h;
            (k.call_scalar(&[v3(up)]).unwrap() - k.call_scalar(&[v3(dn)]).unwrap()) / (2.0 * h)
        })
        .collect()
}

#[test]
fn derivatives_match_finite_differences_on_both_backends() {
    let p = Program::from_source(PROGRAM).unwrap();
    let f = p.function("f").unwrap();
    let x = [0.3, -0.7, 1.1];
    let fd = finite_diff(&f.compile().unwrap(), x);
    for backend in [Backend::Jit, Backend::Interp] {
        let g = f.grad().unwrap().compile_with(backend).unwrap().call(&[v3(x)]).unwrap();
        close(&f64s(&g[0]), &fd, 1e-6);
        let dfk = p.function("df").unwrap().compile_with(backend).unwrap();
        close(&f64s(&dfk.call(&[v3(x)]).unwrap()[0]), &fd, 1e-6);
        let vg = f.value_and_grad().unwrap().compile_with(backend).unwrap().call(&[v3(x)]).unwrap();
        assert_eq!(vg.len(), 2);
        close(&f64s(&vg[1]), &fd, 1e-6);
        // jvp along e1 is the first partial; hvp along e0 is the Hessian's first column.
        let jv = f.jvp().unwrap().compile_with(backend).unwrap().call(&[v3(x), v3([0.0, 1.0, 0.0])]).unwrap();
        close(&f64s(&jv[0]), &fd[1..2], 1e-6);
        let hess = f64s(&f.hessian().unwrap().compile_with(backend).unwrap().call(&[v3(x)]).unwrap()[0]);
        let hv = f64s(&f.hvp().unwrap().compile_with(backend).unwrap().call(&[v3(x), v3([1.0, 0.0, 0.0])]).unwrap()[0]);
        close(&hv, &[hess[0], hess[3], hess[6]], 1e-12);
        // d²f/dx0² = 2 w0 - b sin(x0); off the diagonal 0.
        close(&hess, &[2.0 - 0.25 * 0.3f64.sin(), 0.0, 0.0, 0.0, -4.0 - 0.25 * (-0.7f64).sin(), 0.0, 0.0, 0.0, 1.0 - 0.25 * 1.1f64.sin()], 1e-12);
        // Taylor coefficients of h(t) = exp(2t) cos t at 0: 1, 2, 3/2, 1/3.
        let t = f.program().function("h").unwrap().taylor(3).unwrap().compile_with(backend).unwrap();
        close(&f64s(&t.call(&[s(0.0), s(1.0)]).unwrap()[0]), &[1.0, 2.0, 1.5, 1.0 / 3.0], 1e-12);
        // vjp(g)(x, y, u) = (u (y + exp x), Σ u x).
        let g = p.function("g").unwrap().vjp().unwrap().compile_with(backend).unwrap();
        let out = g.call(&[v3(x), s(2.0), v3([1.0, -1.0, 0.5])]).unwrap();
        assert_eq!(out.len(), 2);
        close(&f64s(&out[0]), &[2.0 + 0.3f64.exp(), -(2.0 + (-0.7f64).exp()), 0.5 * (2.0 + 1.1f64.exp())], 1e-12);
        close(&f64s(&out[1]), &[0.3 + 0.7 + 0.55], 1e-12);
        // vmap of grad: one row per point.
        let batch = Tensor::new(vec![2, 3], Buffer::F64(vec![0.3, -0.7, 1.1, 0.0, 0.0, 0.0])).unwrap();
        let rows = f64s(&f.grad().unwrap().vmap(2).unwrap().compile_with(backend).unwrap().call(&[batch]).unwrap()[0]);
        close(&rows[..3], &fd, 1e-6);
        close(&rows[3..], &[0.25, 0.25, 0.25], 1e-12);
    }
}

#[test]
fn params_are_read_and_set_by_name_and_seen_by_compiled_kernels() {
    let p = Program::from_source(PROGRAM).unwrap();
    assert_eq!(p.params().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>(), ["w: f64[3]", "b: f64"]);
    assert_eq!(f64s(&p.param("w").unwrap()), [1.0, -2.0, 0.5]);
    let k = p.function("f").unwrap().compile().unwrap();
    let x = v3([1.0, 1.0, 1.0]);
    let before = k.call_scalar(std::slice::from_ref(&x)).unwrap();
    close(&[before], &[-0.5 + 0.75 * 1f64.sin()], 1e-14);
    p.set_param("b", s(0.0)).unwrap();
    p.set_param("w", v3([1.0, 1.0, 1.0])).unwrap();
    assert_eq!(k.call_scalar(&[x]).unwrap(), 3.0);
    let e = p.set_param("w", s(1.0)).err().unwrap();
    assert_eq!((e.kind(), e.code().unwrap().0), (ErrorKind::Usage, "E031"));
    assert!(e.to_string().contains("f64[3]"), "{e}");
    assert_eq!(p.set_param("zz", s(1.0)).err().unwrap().code().unwrap().0, "E020");
    assert_eq!(p.param("w").unwrap().to_f64_vec(), [1.0, 1.0, 1.0]);
}

#[test]
fn files_load_their_data_and_uses_relative_to_themselves() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/pts.csv"), "x,y\n1,2\n3,4\n5,6\n").unwrap();
    std::fs::write(dir.path().join("sub/lib.gd"), "fn twice(v: f64[3]) -> f64[3] { 2 * v }\n").unwrap();
    let main = dir.path().join("sub/main.gd");
    std::fs::write(&main, "use \"lib.gd\";\ndata pts = csv(\"pts.csv\", header = true);\nfn total() -> f64 { sum(twice(pts[:, 1])) }\n").unwrap();
    let p = Program::from_file(&main).unwrap();
    assert_eq!(p.data("pts").unwrap().shape(), [3, 2]);
    assert_eq!(p.function("total").unwrap().compile().unwrap().call_scalar(&[]).unwrap(), 24.0);
    assert_eq!(p.data("nope").err().unwrap().code().unwrap().0, "E020");
    // A data file that is missing is the checker's error, with its code.
    std::fs::remove_file(dir.path().join("sub/pts.csv")).unwrap();
    let e = Program::from_file(&main).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Check);
    assert!(e.to_string().contains("pts.csv"), "{e}");
}

#[test]
fn random_initialisers_follow_the_seed() {
    let src = "param w: f64[4] = normal(0, 1);";
    let a = Program::from_source_with(src, &Options::default().seed(3)).unwrap().param("w").unwrap();
    let b = Program::from_source_with(src, &Options::default().seed(3)).unwrap().param("w").unwrap();
    let c = Program::from_source_with(src, &Options::default().seed(4)).unwrap().param("w").unwrap();
    assert_eq!(a.to_f64_vec(), b.to_f64_vec());
    assert_ne!(a.to_f64_vec(), c.to_f64_vec());
}

#[test]
fn a_training_loop_in_rust_reduces_the_loss() {
    // Least squares on data fixed by its seed: y = X t + noise, fitted by SGD steps on `w`.
    let src = r#"
        data X = normal([64, 3], seed = 7);
        param w: f64[3] = zeros();
        fn loss() -> f64 { mean((X @ w - X @ [1.0, -2.0, 0.5]) ^ 2) }
        fn loss_at(v: f64[3]) -> f64 { mean((X @ v - X @ [1.0, -2.0, 0.5]) ^ 2) }
    "#;
    let p = Program::from_source(src).unwrap();
    // Gradients with respect to the params, as a `train` block takes them…
    let step = p.function("loss").unwrap().value_and_param_grad().unwrap();
    assert_eq!(step.wrt_params(), ["w"]);
    let mut losses = Vec::new();
    for _ in 0..50 {
        let out = step.call(&[]).unwrap();
        losses.push(out[0].to_f64_vec()[0]);
        let w: Vec<f64> = p.param("w").unwrap().to_f64_vec().iter().zip(out[1].to_f64_vec()).map(|(w, g)| w - 0.1 * g).collect();
        p.set_param("w", v3([w[0], w[1], w[2]])).unwrap();
    }
    println!("param-grad SGD: loss {} -> {}", losses[0], losses[49]);
    assert!(losses[49] < 0.01 * losses[0], "{losses:?}");
    assert!(losses.windows(2).all(|w| w[1] <= w[0]), "{losses:?}");
    close(&p.param("w").unwrap().to_f64_vec(), &[1.0, -2.0, 0.5], 0.05);
    // …or with respect to an argument, with `value_and_grad`, the weights held in Rust.
    let vg = p.function("loss_at").unwrap().value_and_grad().unwrap().compile().unwrap();
    let mut v = v3([0.0, 0.0, 0.0]);
    let first = vg.call(std::slice::from_ref(&v)).unwrap()[0].to_f64_vec()[0];
    let mut last = first;
    for _ in 0..50 {
        let out = vg.call(std::slice::from_ref(&v)).unwrap();
        last = out[0].to_f64_vec()[0];
        let next: Vec<f64> = v.to_f64_vec().iter().zip(out[1].to_f64_vec()).map(|(a, g)| a - 0.1 * g).collect();
        v = v3([next[0], next[1], next[2]]);
    }
    println!("argument SGD: loss {first} -> {last}");
    assert!(last < 0.01 * first);
}

#[test]
fn wrong_arguments_are_usage_errors() {
    let p = Program::from_source(PROGRAM).unwrap();
    let k = p.function("g").unwrap().compile().unwrap();
    let e = k.call(&[v3([1.0, 2.0, 3.0])]).err().unwrap();
    assert_eq!((e.kind(), e.code().unwrap().0), (ErrorKind::Usage, "E029"));
    assert!(e.message().contains("takes 2 argument tensors, given 1"), "{e}");
    let e = k.call(&[v3([1.0, 2.0, 3.0]), Tensor::scalar_f32(1.0)]).err().unwrap();
    assert_eq!(e.code().unwrap().0, "E031");
    assert!(e.message().contains("argument 1 must be `f64`, given `f32`"), "{e}");
    let e = k.call(&[Tensor::new(vec![2], Buffer::F64(vec![1.0, 2.0])).unwrap(), s(1.0)]).err().unwrap();
    assert!(e.message().contains("argument 0 must be `f64[3]`, given `f64[2]`"), "{e}");
    assert!(k.call_scalar(&[v3([1.0, 2.0, 3.0]), s(1.0)]).is_err());
}

#[test]
fn run_time_errors_come_back_with_their_code_on_both_backends() {
    let p = Program::from_source(PROGRAM).unwrap();
    for backend in [Backend::Jit, Backend::Interp] {
        let k = p.function("pick").unwrap().compile_with(backend).unwrap();
        assert_eq!(k.call_scalar(&[v3([1.0, 2.0, 3.0]), Tensor::scalar_i64(2)]).unwrap(), 3.0);
        let e = k.call(&[v3([1.0, 2.0, 3.0]), Tensor::scalar_i64(7)]).err().unwrap();
        assert_eq!((e.kind(), e.code().unwrap().0), (ErrorKind::Run, "E090"), "{e}");
        assert!(e.to_string().contains("x[i]"), "{e}");
        // The kernel is still usable after a failed call.
        assert_eq!(k.call_scalar(&[v3([1.0, 2.0, 3.0]), Tensor::scalar_i64(0)]).unwrap(), 1.0);
    }
}

#[test]
fn one_kernel_called_many_times_and_from_threads() {
    let p = Program::from_source(PROGRAM).unwrap();
    let t0 = std::time::Instant::now();
    let k = p.function("f").unwrap().grad().unwrap().compile().unwrap();
    println!("function(\"f\") + grad() + compile(): {:?}", t0.elapsed());
    let x = v3([0.1, 0.2, 0.3]);
    let first = k.call(std::slice::from_ref(&x)).unwrap();
    let t0 = std::time::Instant::now();
    for _ in 0..10_000 {
        let again = k.call(std::slice::from_ref(&x)).unwrap();
        assert_eq!(again[0].to_f64_vec(), first[0].to_f64_vec());
    }
    println!("10000 calls of grad(f): {:?}", t0.elapsed());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(k.call(std::slice::from_ref(&x)).unwrap()[0].to_f64_vec(), first[0].to_f64_vec()));
        }
    });
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn compiling_and_dropping_many_kernels_stays_in_bounded_memory() {
    let p = Program::from_source(PROGRAM).unwrap();
    let f = p.function("f").unwrap().hessian().unwrap();
    let x = v3([0.1, 0.2, 0.3]);
    let mut rss = Vec::new();
    for round in 0..4 {
        for _ in 0..50 {
            let k = f.compile().unwrap();
            assert_eq!(k.call(std::slice::from_ref(&x)).unwrap()[0].shape(), [3, 3]);
        }
        rss.push(rss_kib());
        println!("after {} kernels compiled and dropped: RSS {:?} KiB", (round + 1) * 50, rss.last().unwrap());
    }
    // No figure is asserted (RSS depends on the allocator); the kernels only need to drop.
    assert_eq!(DType::F64, p.param("w").unwrap().dtype());
}

/// ORACLES.md S1: `u = (Σ x_i²)(Σ x_j)` at (1, 2, 3). A stochastic Laplacian kernel draws
/// fresh Rademacher directions at every call: with one sample each value is one of the four
/// jet outputs (36, 44, 52, 108), their mean tends to the exact 60, and a kernel compiled
/// again from the same seed repeats the sequence (also through `fn lu = laplacian(…)`).
#[test]
fn a_stochastic_laplacian_draws_fresh_directions_at_every_call() {
    let src = "fn u(x: f64[3]) -> f64 { sum(x ^ 2) * sum(x) }\nfn lu = laplacian(u, samples = 1);\n";
    let program = Program::from_source(src).unwrap();
    let exact = program.function("u").unwrap().laplacian().unwrap().compile().unwrap();
    assert_eq!(exact.call_scalar(&[v3([1.0, 2.0, 3.0])]).unwrap(), 60.0);
    let sample = |k: &gradc::Kernel| k.call_scalar(&[v3([1.0, 2.0, 3.0])]).unwrap();
    let estimate = program.function("u").unwrap().laplacian_estimate(1).unwrap();
    for backend in [Backend::Jit, Backend::Interp] {
        let k = estimate.compile_with(backend).unwrap();
        let values: Vec<f64> = (0..4000).map(|_| sample(&k)).collect();
        assert!(values.iter().all(|v| [36.0, 44.0, 52.0, 108.0].contains(v)), "{:?}", &values[..8]);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        // One sample has standard deviation 28.3: the mean of 4,000 is within 3 of 60 by a
        // margin of over six standard errors.
        assert!((mean - 60.0).abs() < 3.0, "mean {mean}");
        let again = estimate.compile_with(backend).unwrap();
        let named = program.function("lu").unwrap().compile_with(backend).unwrap();
        let first: Vec<f64> = values[..16].to_vec();
        assert_eq!((0..16).map(|_| sample(&again)).collect::<Vec<_>>(), first);
        assert_eq!((0..16).map(|_| sample(&named)).collect::<Vec<_>>(), first);
    }
}
