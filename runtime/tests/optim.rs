//! The optimizers (`gradc_runtime::optim`) on problems with known answers, through small
//! hand-written objectives with analytic derivatives: convex quadratics, Rosenbrock, and a
//! linear function whose constant gradient makes first steps easy to compute by hand.

use gradc_runtime::optim::{option_names, requires_lr, Objective, Optimizer, OptimizerConfig, Schedule, Uses};
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

// ---------------------------------------------------------------- helpers

fn f64s(shape: &[usize], values: &[f64]) -> Tensor {
    Tensor::from_f64s(DType::F64, shape.to_vec(), values).unwrap()
}

fn config(name: &str, lr: Option<f64>, options: &[(&str, f64)]) -> OptimizerConfig {
    OptimizerConfig {
        name: name.to_string(),
        lr: lr.map(Schedule::Constant),
        options: options.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
    }
}

fn flat(params: &[Tensor]) -> Vec<f64> {
    params.iter().flat_map(Tensor::to_f64_vec).collect()
}

/// `values` cut into tensors shaped and typed as `like`.
fn split(values: &[f64], like: &[Tensor]) -> Vec<Tensor> {
    let mut at = 0;
    like.iter()
        .map(|p| {
            let t = Tensor::from_f64s(p.dtype(), p.shape().to_vec(), &values[at..at + p.len()]).unwrap();
            at += p.len();
            t
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// Every element's bits, for "bit-identical" comparisons (NaN-safe, −0 ≠ +0).
fn bits(ts: &[Tensor]) -> Vec<(DType, Vec<usize>, Vec<u64>)> {
    ts.iter()
        .map(|t| {
            let b = match t.data() {
                Buffer::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
                Buffer::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
                Buffer::I64(v) => v.iter().map(|&x| x as u64).collect(),
                Buffer::Bool(v) => v.iter().map(|&x| u64::from(x)).collect(),
            };
            (t.dtype(), t.shape().to_vec(), b)
        })
        .collect()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Calls {
    value: usize,
    grad: usize,
    jvp: usize,
    hvp: usize,
    hessian: usize,
}

/// A function of the flattened params given by its value, gradient and Hessian.
trait Smooth {
    fn f(&self, x: &[f64]) -> f64;
    fn grad(&self, x: &[f64]) -> Vec<f64>;
    fn hess(&self, x: &[f64]) -> Vec<f64>;
}

/// An [`Objective`] over a [`Smooth`] function that counts its calls; `fail` makes every call
/// an error, `nan` makes every loss NaN.
struct Counted<S> {
    s: S,
    calls: Calls,
    fail: bool,
    nan: bool,
}

fn counted<S>(s: S) -> Counted<S> {
    Counted { s, calls: Calls::default(), fail: false, nan: false }
}

impl<S: Smooth> Counted<S> {
    fn check(&self) -> Result<(), String> {
        if self.fail {
            Err("objective failed".to_string())
        } else {
            Ok(())
        }
    }
    fn f(&self, x: &[f64]) -> f64 {
        if self.nan {
            f64::NAN
        } else {
            self.s.f(x)
        }
    }
}

impl<S: Smooth> Objective for Counted<S> {
    type Error = String;
    fn value(&mut self, params: &[Tensor]) -> Result<f64, String> {
        self.check()?;
        self.calls.value += 1;
        Ok(self.f(&flat(params)))
    }
    fn value_and_grad(&mut self, params: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
        self.check()?;
        self.calls.grad += 1;
        let x = flat(params);
        Ok((self.f(&x), split(&self.s.grad(&x), params)))
    }
    fn value_and_jvp(&mut self, params: &[Tensor], v: &[Tensor]) -> Result<(f64, f64), String> {
        self.check()?;
        self.calls.jvp += 1;
        let x = flat(params);
        Ok((self.f(&x), dot(&self.s.grad(&x), &flat(v))))
    }
    fn hvp(&mut self, params: &[Tensor], v: &[Tensor]) -> Result<Vec<Tensor>, String> {
        self.check()?;
        self.calls.hvp += 1;
        let (x, v) = (flat(params), flat(v));
        let h = self.s.hess(&x);
        let n = x.len();
        let hv: Vec<f64> = (0..n).map(|i| dot(&h[i * n..(i + 1) * n], &v)).collect();
        Ok(split(&hv, params))
    }
    fn errors_and_rgrad(&mut self, _: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
        Err("a float objective has no error bits".into())
    }
    fn hessian(&mut self, params: &[Tensor]) -> Result<Vec<f64>, String> {
        self.check()?;
        self.calls.hessian += 1;
        Ok(self.s.hess(&flat(params)))
    }
}

/// `½ (x − b)ᵀ A (x − b)`, A symmetric positive definite (row-major).
#[derive(Clone)]
struct Quadratic {
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Smooth for Quadratic {
    fn f(&self, x: &[f64]) -> f64 {
        let r: Vec<f64> = x.iter().zip(&self.b).map(|(x, b)| x - b).collect();
        0.5 * dot(&r, &self.grad(x))
    }
    fn grad(&self, x: &[f64]) -> Vec<f64> {
        let n = x.len();
        let r: Vec<f64> = x.iter().zip(&self.b).map(|(x, b)| x - b).collect();
        (0..n).map(|i| dot(&self.a[i * n..(i + 1) * n], &r)).collect()
    }
    fn hess(&self, _: &[f64]) -> Vec<f64> {
        self.a.clone()
    }
}

/// Eigenvalues about 1, 1.38 and 3.62; minimiser `b`. Params: an f64[2] and an f64[1, 1].
fn quadratic() -> Quadratic {
    Quadratic { a: vec![3.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 1.0], b: vec![1.0, -2.0, 0.5] }
}

fn quadratic_start(dtype: DType) -> Vec<Tensor> {
    vec![Tensor::from_f64s(dtype, vec![2], &[0.0, 0.0]).unwrap(), Tensor::from_f64s(dtype, vec![1, 1], &[0.0]).unwrap()]
}

/// `(1 − x)² + 100 (y − x²)²`, minimum 0 at (1, 1).
struct Rosenbrock;

impl Smooth for Rosenbrock {
    fn f(&self, p: &[f64]) -> f64 {
        let (x, y) = (p[0], p[1]);
        (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
    }
    fn grad(&self, p: &[f64]) -> Vec<f64> {
        let (x, y) = (p[0], p[1]);
        vec![-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)]
    }
    fn hess(&self, p: &[f64]) -> Vec<f64> {
        let (x, y) = (p[0], p[1]);
        vec![1200.0 * x * x - 400.0 * y + 2.0, -400.0 * x, -400.0 * x, 200.0]
    }
}

/// `g · x`: a constant gradient `g`.
struct Linear {
    g: Vec<f64>,
}

impl Smooth for Linear {
    fn f(&self, x: &[f64]) -> f64 {
        dot(&self.g, x)
    }
    fn grad(&self, _: &[f64]) -> Vec<f64> {
        self.g.clone()
    }
    fn hess(&self, x: &[f64]) -> Vec<f64> {
        vec![0.0; x.len() * x.len()]
    }
}

/// Runs `steps` steps from step 0; returns the losses.
fn run<O: Objective>(
    opt: &mut Optimizer,
    params: &mut [Tensor],
    obj: &mut O,
    rng: &mut Rng,
    steps: std::ops::Range<usize>,
) -> Vec<f64>
where
    O::Error: std::fmt::Debug,
{
    steps.map(|s| opt.step(s, params, obj, rng).unwrap()).collect()
}

fn train(cfg: &OptimizerConfig, params: &mut [Tensor], s: impl Smooth, steps: usize, seed: u64) -> Vec<f64> {
    let mut opt = Optimizer::new(cfg, params).unwrap();
    let mut obj = counted(s);
    run(&mut opt, params, &mut obj, &mut Rng::seed_from_u64(seed), 0..steps)
}

// ---------------------------------------------------------------- convergence

#[test]
fn every_gradient_optimizer_reaches_the_minimiser_of_a_convex_quadratic() {
    let q = quadratic();
    let cases: &[(OptimizerConfig, usize, f64)] = &[
        (config("sgd", Some(0.2), &[]), 200, 1e-12),
        (config("sgd", Some(0.1), &[("momentum", 0.5)]), 200, 1e-12),
        (config("sgd", Some(0.1), &[("momentum", 0.5), ("nesterov", 1.0)]), 200, 1e-12),
        (config("adagrad", Some(1.0), &[]), 500, 1e-10),
        (
            OptimizerConfig {
                lr: Some(Schedule::StepDecay { lr: 0.05, every: 200, factor: 0.3 }),
                ..config("rmsprop", None, &[])
            },
            2000,
            1e-6,
        ),
        (config("adam", Some(0.05), &[]), 2000, 1e-6),
        (config("adamw", Some(0.05), &[("weight_decay", 0.0)]), 2000, 1e-6),
        (config("amsgrad", Some(0.05), &[]), 2000, 1e-6),
        (config("lbfgs", None, &[]), 20, 1e-12),
        (config("newton", None, &[]), 1, 1e-12),
    ];
    for (cfg, steps, tol) in cases {
        let mut params = quadratic_start(DType::F64);
        let losses = train(cfg, &mut params, q.clone(), *steps, 0);
        let err = dist(&flat(&params), &q.b);
        assert!(
            err < *tol,
            "{cfg:?}: |x − x*| = {err:e} after {steps} steps (losses {:?})",
            &losses[losses.len() - 3..]
        );
    }
}

#[test]
fn adahessian_reaches_the_minimiser_of_a_diagonal_quadratic() {
    // On a diagonal Hessian, Hutchinson's estimate z ⊙ Hz is exact.
    let q = Quadratic { a: vec![1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 10.0], b: vec![1.0, -2.0, 0.5] };
    let mut params = quadratic_start(DType::F64);
    train(&config("adahessian", Some(0.3), &[]), &mut params, q.clone(), 1000, 3);
    let err = dist(&flat(&params), &q.b);
    assert!(err < 1e-12, "|x − x*| = {err:e}");
    // And decreases a non-diagonal one.
    let q = quadratic();
    let mut params = quadratic_start(DType::F64);
    let losses = train(&config("adahessian", Some(0.1), &[]), &mut params, q.clone(), 1000, 3);
    assert!(losses[999] < 1e-6 * losses[0], "{} → {}", losses[0], losses[999]);
}

#[test]
fn lbfgs_and_newton_solve_rosenbrock() {
    for (cfg, steps) in [(config("lbfgs", None, &[]), 60), (config("newton", None, &[]), 10)] {
        let mut params = vec![f64s(&[2], &[-1.2, 1.0])];
        let mut opt = Optimizer::new(&cfg, &params).unwrap();
        let mut obj = counted(Rosenbrock);
        let mut rng = Rng::seed_from_u64(0);
        let mut reached = None;
        for step in 0..steps {
            opt.step(step, &mut params, &mut obj, &mut rng).unwrap();
            if reached.is_none() && dist(&flat(&params), &[1.0, 1.0]) < 1e-6 {
                reached = Some(step + 1);
            }
        }
        let err = dist(&flat(&params), &[1.0, 1.0]);
        assert!(err < 1e-6, "{}: |x − (1, 1)| = {err:e} after {steps} steps", cfg.name);
        eprintln!("{}: within 1e-6 after {:?} steps; calls {:?}", cfg.name, reached, obj.calls);
    }
}

// ---------------------------------------------------------------- first steps by hand

/// One step of `cfg` from `x0` on the constant gradient `g`; the new params, flat.
fn first_step(cfg: &OptimizerConfig, x0: &[f64], g: &[f64], steps: usize) -> Vec<f64> {
    let mut params = vec![f64s(&[2], &x0[..2]), f64s(&[1], &x0[2..])];
    train(cfg, &mut params, Linear { g: g.to_vec() }, steps, 0);
    flat(&params)
}

#[test]
fn first_steps_follow_the_formulas() {
    let x0 = [0.5, -1.25, 2.0];
    let g = [0.3, -2.0, 0.7];
    let each = |f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> { x0.iter().zip(&g).map(|(&p, &g)| f(p, g)).collect() };
    let lr = 0.1;

    assert_eq!(first_step(&config("sgd", Some(lr), &[]), &x0, &g, 1), each(&|p, g| p - lr * g));
    let wd = 0.25;
    assert_eq!(
        first_step(&config("sgd", Some(lr), &[("weight_decay", wd)]), &x0, &g, 1),
        each(&|p, g| p - lr * (g + wd * p))
    );
    // Momentum: b₁ = g, b₂ = μ·g + g.
    let mu = 0.9;
    assert_eq!(first_step(&config("sgd", Some(lr), &[("momentum", mu)]), &x0, &g, 1), each(&|p, g| p - lr * g));
    assert_eq!(
        first_step(&config("sgd", Some(lr), &[("momentum", mu)]), &x0, &g, 2),
        each(&|p, g| {
            let p1 = p - lr * g;
            p1 - lr * (mu * g + g)
        })
    );
    assert_eq!(
        first_step(&config("sgd", Some(lr), &[("momentum", mu), ("nesterov", 1.0)]), &x0, &g, 1),
        each(&|p, g| p - lr * (g + mu * g))
    );

    let eps = 1e-10;
    assert_eq!(
        first_step(&config("adagrad", Some(lr), &[]), &x0, &g, 1),
        each(&|p, g| p - lr * (g / ((g * g).sqrt() + eps)))
    );

    let (alpha, eps) = (0.99, 1e-8);
    assert_eq!(
        first_step(&config("rmsprop", Some(lr), &[]), &x0, &g, 1),
        each(&|p, g| p - lr * (g / (((1.0 - alpha) * (g * g)).sqrt() + eps)))
    );

    let (b1, b2) = (0.9, 0.999);
    let adam = |p: f64, g: f64| {
        let m = (1.0 - b1) * g;
        let v = (1.0 - b2) * (g * g);
        p - (lr / (1.0 - b1)) * (m / (v.sqrt() / (1.0 - b2).sqrt() + eps))
    };
    assert_eq!(first_step(&config("adam", Some(lr), &[]), &x0, &g, 1), each(&adam));
    assert_eq!(first_step(&config("amsgrad", Some(lr), &[]), &x0, &g, 1), each(&adam));
    // Adam's first step is ±lr (up to eps) whatever the gradient's size.
    for (x1, (p, g)) in first_step(&config("adam", Some(lr), &[]), &x0, &g, 1).iter().zip(x0.iter().zip(&g)) {
        assert!((x1 - (p - lr * g.signum())).abs() < 1e-8);
    }
    assert_eq!(first_step(&config("adamw", Some(lr), &[]), &x0, &g, 1), each(&|p, g| adam(p * (1.0 - lr * 0.01), g)));
    assert_eq!(
        first_step(&config("adam", Some(lr), &[("weight_decay", wd)]), &x0, &g, 1),
        each(&|p, g| adam(p, g + wd * p))
    );

    // A second amsgrad step on a zero gradient: v̂ keeps the larger first v.
    let mut params = vec![f64s(&[1], &[1.0])];
    let mut opt = Optimizer::new(&config("amsgrad", Some(lr), &[]), &params).unwrap();
    let mut rng = Rng::seed_from_u64(0);
    opt.step(0, &mut params, &mut counted(Linear { g: vec![2.0] }), &mut rng).unwrap();
    let p1 = flat(&params)[0];
    opt.step(1, &mut params, &mut counted(Linear { g: vec![0.0] }), &mut rng).unwrap();
    let m = b1 * ((1.0 - b1) * 2.0);
    let v1 = (1.0 - b2) * 4.0;
    let v2 = b2 * v1;
    assert!(v2 < v1);
    let (bc1, bc2) = (1.0 - libm::pow(b1, 2.0), 1.0 - libm::pow(b2, 2.0));
    assert_eq!(flat(&params)[0], p1 - (lr / bc1) * (m / (v1.sqrt() / bc2.sqrt() + eps)));
}

// ---------------------------------------------------------------- schedules and clipping

#[test]
fn schedules_give_their_rates() {
    let close = |a: f64, b: f64| assert!((a - b).abs() <= 1e-15 * b.abs().max(1e-300), "{a} vs {b}");
    assert_eq!(Schedule::Constant(0.3).at(12345), 0.3);
    let cosine = Schedule::Cosine { lr: 0.1, steps: 100 };
    assert_eq!(cosine.at(0), 0.1);
    close(cosine.at(50), 0.05);
    close(cosine.at(25), 0.1 * 0.5 * (1.0 + std::f64::consts::FRAC_1_SQRT_2));
    assert_eq!(cosine.at(100), 0.0);
    assert_eq!(cosine.at(1000), 0.0);
    assert!(cosine.at(99) > 0.0 && cosine.at(99) < 1e-4);
    let decay = Schedule::StepDecay { lr: 0.1, every: 10, factor: 0.5 };
    assert_eq!(decay.at(0), 0.1);
    assert_eq!(decay.at(9), 0.1);
    assert_eq!(decay.at(10), 0.05);
    assert_eq!(decay.at(25), 0.025);
    close(decay.at(100), 0.1 / 1024.0);

    // The optimizer uses the rate of the step it is given.
    let cfg = OptimizerConfig { lr: Some(decay), ..config("sgd", None, &[]) };
    let mut params = vec![f64s(&[1], &[0.0])];
    let mut opt = Optimizer::new(&cfg, &params).unwrap();
    assert_eq!(opt.lr_at(10), 0.05);
    opt.step(10, &mut params, &mut counted(Linear { g: vec![1.0] }), &mut Rng::seed_from_u64(0)).unwrap();
    assert_eq!(flat(&params), [-0.05]);
}

#[test]
fn clip_rescales_the_gradient_to_the_global_norm() {
    // ‖(3, 0 | 4)‖ = 5 over two tensors.
    let g = [3.0, 0.0, 4.0];
    let x0 = [0.0; 3];
    let k = 1.0 / 5.0;
    assert_eq!(first_step(&config("sgd", Some(1.0), &[("clip", 1.0)]), &x0, &g, 1), [-(3.0 * k), 0.0, -(4.0 * k)]);
    assert_eq!(first_step(&config("sgd", Some(1.0), &[("clip", 5.0)]), &x0, &g, 1), [-3.0, 0.0, -4.0]);
    assert_eq!(first_step(&config("sgd", Some(1.0), &[("clip", 10.0)]), &x0, &g, 1), [-3.0, 0.0, -4.0]);
    // Before weight decay.
    let x1 = first_step(&config("sgd", Some(1.0), &[("clip", 1.0), ("weight_decay", 1.0)]), &[1.0, 0.0, 0.0], &g, 1);
    assert_eq!(x1, [1.0 - (3.0 * k + 1.0), 0.0, -(4.0 * k)]);
    // A clipped estimate: spsa and forward_gradient move exactly lr · clip.
    for name in ["spsa", "forward_gradient"] {
        let mut params = quadratic_start(DType::F64);
        let mut extra = vec![("clip", 1e-3)];
        if name == "spsa" {
            extra.push(("c", 1e-3));
        }
        train(&config(name, Some(0.5), &extra), &mut params, quadratic(), 1, 1);
        let moved = dist(&flat(&params), &[0.0; 3]);
        assert!((moved - 0.5e-3).abs() < 1e-15, "{name}: moved {moved}");
    }
}

// ---------------------------------------------------------------- state

fn all_configs() -> Vec<OptimizerConfig> {
    vec![
        config("sgd", Some(0.05), &[]),
        config("sgd", Some(0.05), &[("momentum", 0.9), ("nesterov", 1.0), ("clip", 2.0)]),
        config("adagrad", None, &[("weight_decay", 0.1)]),
        config("rmsprop", None, &[]),
        OptimizerConfig { lr: Some(Schedule::Cosine { lr: 0.1, steps: 8 }), ..config("adam", None, &[]) },
        config("adamw", Some(0.05), &[]),
        config("amsgrad", Some(0.05), &[]),
        config("lbfgs", None, &[("history", 3.0)]),
        config("newton", Some(0.5), &[("damping", 0.1)]),
        config("forward_gradient", Some(0.05), &[("samples", 2.0)]),
        config("spsa", Some(0.05), &[("c", 0.01)]),
        config("adahessian", Some(0.1), &[("weight_decay", 0.01), ("hessian_power", 0.5)]),
    ]
}

#[test]
fn a_resumed_run_continues_bit_for_bit() {
    for dtype in [DType::F64, DType::F32] {
        for cfg in all_configs() {
            let start = quadratic_start(dtype);
            // Uninterrupted: 10 steps.
            let mut a = start.clone();
            let mut opt = Optimizer::new(&cfg, &a).unwrap();
            let mut rng = Rng::seed_from_u64(42);
            let mut obj = counted(quadratic());
            let losses_a = run(&mut opt, &mut a, &mut obj, &mut rng, 0..10);
            let state_a = opt.state();

            // 5 steps, save, a new optimizer and generator from the saved state, 5 more.
            let mut b = start.clone();
            let mut opt = Optimizer::new(&cfg, &b).unwrap();
            let mut rng = Rng::seed_from_u64(42);
            let mut losses_b = run(&mut opt, &mut b, &mut obj, &mut rng, 0..5);
            let (saved, saved_rng) = (opt.state(), rng.state());
            drop(opt);
            let mut opt = Optimizer::new(&cfg, &b).unwrap();
            opt.load_state(&saved).unwrap();
            let mut rng = Rng::from_state(saved_rng).unwrap();
            losses_b.extend(run(&mut opt, &mut b, &mut obj, &mut rng, 5..10));

            assert_eq!(bits(&a), bits(&b), "{} {dtype}: params differ", cfg.name);
            let (names_a, t_a): (Vec<_>, Vec<_>) = state_a.into_iter().unzip();
            let (names_b, t_b): (Vec<_>, Vec<_>) = opt.state().into_iter().unzip();
            assert_eq!(names_a, names_b);
            assert_eq!(bits(&t_a), bits(&t_b), "{} {dtype}: state differs", cfg.name);
            let l = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(l(&losses_a), l(&losses_b), "{} {dtype}: losses differ", cfg.name);
            assert!(losses_a[9] < losses_a[0], "{} {dtype}: {losses_a:?}", cfg.name);
        }
    }
}

#[test]
fn state_is_named_and_shaped_as_documented() {
    let params = quadratic_start(DType::F32);
    let names = |cfg: OptimizerConfig| -> Vec<String> {
        let opt = Optimizer::new(&cfg, &params).unwrap();
        let state = opt.state();
        for (name, t) in &state {
            if name.ends_with(".t") {
                assert_eq!((t.dtype(), t.shape()), (DType::I64, &[][..]), "{name}");
            } else if !name.starts_with("lbfgs.") {
                let i: usize = name.rsplit('.').next().unwrap().parse().unwrap();
                assert_eq!((t.dtype(), t.shape()), (DType::F32, params[i].shape()), "{name}");
            }
        }
        state.into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(names(config("sgd", Some(0.1), &[])), Vec::<String>::new());
    assert_eq!(names(config("sgd", Some(0.1), &[("momentum", 0.9)])), ["sgd.momentum.0", "sgd.momentum.1"]);
    assert_eq!(names(config("adam", None, &[])), ["adam.t", "adam.m.0", "adam.m.1", "adam.v.0", "adam.v.1"]);
    assert_eq!(
        names(config("amsgrad", None, &[])),
        ["amsgrad.t", "amsgrad.m.0", "amsgrad.m.1", "amsgrad.v.0", "amsgrad.v.1", "amsgrad.v_max.0", "amsgrad.v_max.1"]
    );
    assert_eq!(names(config("adagrad", None, &[])), ["adagrad.sum.0", "adagrad.sum.1"]);
    assert_eq!(names(config("rmsprop", None, &[])), ["rmsprop.v.0", "rmsprop.v.1"]);
    assert_eq!(names(config("spsa", Some(0.1), &[("c", 0.1)])), Vec::<String>::new());

    // lbfgs: one f64 pair of vectors over all 3 elements per step, at most `history`.
    let mut p = quadratic_start(DType::F32);
    let mut opt = Optimizer::new(&config("lbfgs", None, &[("history", 2.0)]), &p).unwrap();
    run(&mut opt, &mut p, &mut counted(quadratic()), &mut Rng::seed_from_u64(0), 0..3);
    let state = opt.state();
    let got: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(got, ["lbfgs.s.0", "lbfgs.y.0", "lbfgs.s.1", "lbfgs.y.1"]);
    assert!(state.iter().all(|(_, t)| t.dtype() == DType::F64 && t.shape() == [3]));
}

#[test]
fn load_state_rejects_a_state_that_does_not_fit() {
    let params = quadratic_start(DType::F64);
    let mut opt = Optimizer::new(&config("adam", None, &[]), &params).unwrap();
    let good = opt.state();
    let err = |state: Vec<(String, Tensor)>, opt: &mut Optimizer| opt.load_state(&state).unwrap_err().message;

    let missing: Vec<_> = good.iter().filter(|(n, _)| n != "adam.v.1").cloned().collect();
    assert!(err(missing, &mut opt).contains("no `adam.v.1`"));
    let mut extra = good.clone();
    extra.push(("adam.w.0".to_string(), f64s(&[2], &[0.0, 0.0])));
    assert!(err(extra, &mut opt).contains("`adam.w.0`"));
    let mut shape = good.clone();
    shape[1].1 = f64s(&[3], &[0.0; 3]);
    assert!(err(shape, &mut opt).contains("expected f64[2]"), "{}", opt.load_state(&[]).unwrap_err());
    let mut dtype = good.clone();
    dtype[1].1 = Tensor::from_f64s(DType::F32, vec![2], &[0.0; 2]).unwrap();
    assert!(err(dtype, &mut opt).contains("f32[2]"));
    let mut t = good.clone();
    t[0].1 = Tensor::scalar_i64(-1);
    assert!(err(t, &mut opt).contains("i64 scalar"));
    let mut twice = good.clone();
    twice.push(good[0].clone());
    assert!(err(twice, &mut opt).contains("twice"));
    // Other entries (params, other optimizers' names) are ignored; a failed load changes nothing.
    let mut with_params = good.clone();
    with_params.push(("w1".to_string(), f64s(&[1], &[1.0])));
    with_params.push(("adamw.m.0".to_string(), f64s(&[1], &[1.0])));
    opt.load_state(&with_params).unwrap();
    assert_eq!(
        bits(&opt.state().into_iter().map(|x| x.1).collect::<Vec<_>>()),
        bits(&good.into_iter().map(|x| x.1).collect::<Vec<_>>())
    );

    let mut lbfgs = Optimizer::new(&config("lbfgs", None, &[("history", 1.0)]), &params).unwrap();
    let two_pairs: Vec<(String, Tensor)> =
        ["s.0", "y.0", "s.1", "y.1"].iter().map(|n| (format!("lbfgs.{n}"), f64s(&[3], &[1.0, 2.0, 3.0]))).collect();
    assert!(lbfgs.load_state(&two_pairs).unwrap_err().message.contains("history = 1"));
    lbfgs.load_state(&two_pairs[..2]).unwrap();
    assert!(lbfgs.load_state(&two_pairs[..1]).unwrap_err().message.contains("no `lbfgs.y.0`"));
}

// ---------------------------------------------------------------- element types

#[test]
fn f32_params_are_updated_in_f32() {
    // sgd: p − f32(lr)·g in f32 arithmetic.
    let mut params = vec![Tensor::from_f64s(DType::F32, vec![2], &[0.1, -0.7]).unwrap()];
    let g = [0.3f32, 1.0 / 3.0];
    let mut opt = Optimizer::new(&config("sgd", Some(0.01), &[]), &params).unwrap();
    let grad = Tensor::from_f64s(DType::F32, vec![2], &[g[0] as f64, g[1] as f64]).unwrap();
    let x0: Vec<f32> = params[0].as_f32().unwrap().to_vec();
    opt.step(0, &mut params, &mut FixedGrad(grad), &mut Rng::seed_from_u64(0)).unwrap();
    let want: Vec<f32> = x0.iter().zip(&g).map(|(&p, &g)| p - 0.01f32 * g).collect();
    assert_eq!(params[0].as_f32().unwrap(), &want[..]);

    // adam: params and state stay f32, and reach the minimiser to f32 accuracy.
    let q = quadratic();
    let mut params = quadratic_start(DType::F32);
    let mut opt = Optimizer::new(&config("adam", Some(0.05), &[]), &params).unwrap();
    run(&mut opt, &mut params, &mut counted(q.clone()), &mut Rng::seed_from_u64(0), 0..2000);
    assert!(params.iter().all(|p| p.dtype() == DType::F32));
    assert!(opt.state().iter().filter(|(n, _)| !n.ends_with(".t")).all(|(_, t)| t.dtype() == DType::F32));
    let err = dist(&flat(&params), &q.b);
    assert!(err < 1e-5, "|x − x*| = {err:e}");

    // lbfgs and newton on f32 params round once per step and still converge.
    for name in ["lbfgs", "newton"] {
        let mut params = quadratic_start(DType::F32);
        train(&config(name, None, &[]), &mut params, q.clone(), 20, 0);
        assert!(params.iter().all(|p| p.dtype() == DType::F32));
        let err = dist(&flat(&params), &q.b);
        assert!(err < 1e-6, "{name}: |x − x*| = {err:e}");
    }

    // f64 gradients for f32 params are rounded to f32.
    let mut params = vec![Tensor::from_f64s(DType::F32, vec![1], &[0.0]).unwrap()];
    let mut opt = Optimizer::new(&config("sgd", Some(1.0), &[]), &params).unwrap();
    opt.step(0, &mut params, &mut FixedGrad(f64s(&[1], &[0.1])), &mut Rng::seed_from_u64(0)).unwrap();
    assert_eq!(params[0].as_f32().unwrap(), &[-0.1f32]);
}

/// A constant gradient tensor, given as is (any dtype); the loss is 0.
struct FixedGrad(Tensor);

impl Objective for FixedGrad {
    type Error = String;
    fn value(&mut self, _: &[Tensor]) -> Result<f64, String> {
        Ok(0.0)
    }
    fn value_and_grad(&mut self, _: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
        Ok((0.0, vec![self.0.clone()]))
    }
    fn value_and_jvp(&mut self, _: &[Tensor], _: &[Tensor]) -> Result<(f64, f64), String> {
        unreachable!()
    }
    fn hvp(&mut self, _: &[Tensor], _: &[Tensor]) -> Result<Vec<Tensor>, String> {
        unreachable!()
    }
    fn errors_and_rgrad(&mut self, _: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
        unreachable!()
    }
}

// ---------------------------------------------------------------- stochastic optimizers

#[test]
fn forward_gradient_uses_only_forward_mode_and_decreases_a_quadratic() {
    let q = quadratic();
    let f0 = q.f(&[0.0; 3]);
    let runs = 20;
    let mut mean = [0.0; 4];
    for seed in 0..runs {
        let mut params = quadratic_start(DType::F64);
        let mut opt = Optimizer::new(&config("forward_gradient", Some(0.05), &[("samples", 2.0)]), &params).unwrap();
        let mut obj = counted(q.clone());
        let losses = run(&mut opt, &mut params, &mut obj, &mut Rng::seed_from_u64(seed), 0..300);
        assert_eq!(obj.calls, Calls { jvp: 600, ..Calls::default() });
        for (m, step) in mean.iter_mut().zip([0, 10, 100, 299]) {
            *m += losses[step] / runs as f64;
        }
        assert!(losses[299] < 1e-3 * f0, "seed {seed}: {} → {}", f0, losses[299]);
    }
    assert!(mean[0] > mean[1] && mean[1] > mean[2] && mean[2] > mean[3], "{mean:?}");
    assert!(mean[3] < 1e-6 * f0, "{mean:?}");
}

#[test]
fn spsa_uses_two_values_a_step_and_decreases_a_quadratic() {
    let q = quadratic();
    let f0 = q.f(&[0.0; 3]);
    let runs = 20;
    let mut mean = [0.0; 4];
    for seed in 0..runs {
        let mut params = quadratic_start(DType::F64);
        let mut opt = Optimizer::new(&config("spsa", Some(0.05), &[("c", 1e-3)]), &params).unwrap();
        let mut obj = counted(q.clone());
        let losses = run(&mut opt, &mut params, &mut obj, &mut Rng::seed_from_u64(seed), 0..300);
        assert_eq!(obj.calls, Calls { value: 600, ..Calls::default() });
        for (m, step) in mean.iter_mut().zip([0, 10, 100, 299]) {
            *m += losses[step] / runs as f64;
        }
        assert!(losses[299] < 1e-3 * f0, "seed {seed}: {} → {}", f0, losses[299]);
    }
    assert!(mean[0] > mean[1] && mean[1] > mean[2] && mean[2] > mean[3], "{mean:?}");
    // The reported loss is the mean of the two probes: f(x) + O(c²).
    assert!((mean[0] - f0).abs() < 1e-5, "{} vs {f0}", mean[0]);
}

#[test]
fn each_optimizer_calls_only_what_it_uses() {
    let expected = |name: &str| -> Uses {
        let none = Uses::default();
        match name {
            "forward_gradient" => Uses { value_and_jvp: true, ..none },
            "spsa" => Uses { value: true, ..none },
            "newton" => Uses { value_and_grad: true, hessian: true, ..none },
            "adahessian" => Uses { value_and_grad: true, hvp: true, ..none },
            _ => Uses { value_and_grad: true, ..none },
        }
    };
    for cfg in all_configs() {
        let mut params = quadratic_start(DType::F64);
        let mut opt = Optimizer::new(&cfg, &params).unwrap();
        assert_eq!(opt.uses(), expected(&cfg.name), "{}", cfg.name);
        let mut obj = counted(quadratic());
        run(&mut opt, &mut params, &mut obj, &mut Rng::seed_from_u64(0), 0..3);
        let c = obj.calls;
        let used = Uses {
            value: c.value > 0,
            value_and_grad: c.grad > 0,
            value_and_jvp: c.jvp > 0,
            hvp: c.hvp > 0,
            hessian: c.hessian > 0,
            errors_and_rgrad: false,
        };
        assert_eq!(used, opt.uses(), "{}: {c:?}", cfg.name);
    }
}

// ---------------------------------------------------------------- edge cases

#[test]
fn a_non_finite_loss_or_an_objective_error_changes_nothing() {
    for cfg in all_configs() {
        let mut params = quadratic_start(DType::F64);
        let mut opt = Optimizer::new(&cfg, &params).unwrap();
        let mut obj = counted(quadratic());
        let mut rng = Rng::seed_from_u64(0);
        run(&mut opt, &mut params, &mut obj, &mut rng, 0..2);
        let (before, state) = (bits(&params), opt.state());
        obj.nan = true;
        assert!(opt.step(2, &mut params, &mut obj, &mut rng).unwrap().is_nan(), "{}", cfg.name);
        assert_eq!(bits(&params), before, "{}", cfg.name);
        assert_eq!(opt.state(), state, "{}", cfg.name);
        obj.nan = false;
        obj.fail = true;
        assert_eq!(opt.step(2, &mut params, &mut obj, &mut rng).unwrap_err(), "objective failed");
        assert_eq!(bits(&params), before, "{}", cfg.name);
    }
}

#[test]
fn newton_falls_back_to_a_damped_step_where_the_hessian_is_indefinite() {
    // At (0, 1) Rosenbrock's Hessian is diag(−398, 200).
    let x0 = [0.0, 1.0];
    assert!(Rosenbrock.hess(&x0)[0] < 0.0);
    let mut params = vec![f64s(&[2], &x0)];
    train(&config("newton", None, &[]), &mut params, Rosenbrock, 1, 0);
    let x1 = flat(&params);
    let step: Vec<f64> = x1.iter().zip(&x0).map(|(a, b)| a - b).collect();
    assert!(x1.iter().all(|x| x.is_finite()));
    assert!(dot(&step, &Rosenbrock.grad(&x0)) < 0.0, "not a descent step: {step:?}");
    assert!(Rosenbrock.f(&x1) < Rosenbrock.f(&x0), "{x1:?}");
}

#[test]
fn the_default_hessian_is_built_from_hvp() {
    struct ByHvp(Counted<Rosenbrock>);
    impl Objective for ByHvp {
        type Error = String;
        fn value(&mut self, p: &[Tensor]) -> Result<f64, String> {
            self.0.value(p)
        }
        fn value_and_grad(&mut self, p: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
            self.0.value_and_grad(p)
        }
        fn value_and_jvp(&mut self, p: &[Tensor], v: &[Tensor]) -> Result<(f64, f64), String> {
            self.0.value_and_jvp(p, v)
        }
        fn hvp(&mut self, p: &[Tensor], v: &[Tensor]) -> Result<Vec<Tensor>, String> {
            self.0.hvp(p, v)
        }
        fn errors_and_rgrad(&mut self, p: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
            self.0.errors_and_rgrad(p)
        }
    }
    // Split across tensors, one of them empty.
    let params = vec![f64s(&[1], &[0.3]), f64s(&[0], &[]), f64s(&[1, 1], &[-0.4])];
    let mut obj = ByHvp(counted(Rosenbrock));
    assert_eq!(obj.hessian(&params).unwrap(), Rosenbrock.hess(&[0.3, -0.4]));
    assert_eq!(obj.0.calls.hvp, 2);
}

#[test]
fn bad_configs_are_errors_with_a_message() {
    let params = quadratic_start(DType::F64);
    let err = |cfg: OptimizerConfig| Optimizer::new(&cfg, &params).unwrap_err();

    let e = err(config("adma", None, &[]));
    assert!(e.message.contains("unknown optimizer `adma`") && e.message.contains("did you mean `adam`?"), "{e}");
    assert!(
        e.message
            .contains("sgd, adagrad, rmsprop, adam, adamw, amsgrad, lbfgs, newton, forward_gradient, spsa, adahessian"),
        "{e}"
    );
    let e = err(config("adam", None, &[("momentum", 0.9)]));
    assert_eq!(e.option.as_deref(), Some("momentum"));
    assert!(
        e.message
            .contains("`adam` has no option `momentum`; its options are lr, beta1, beta2, eps, weight_decay, clip"),
        "{e}"
    );
    assert!(err(config("adam", None, &[("beta_1", 0.9)])).message.contains("did you mean `beta1`?"));
    let e = err(config("sgd", None, &[]));
    assert!(e.message.contains("`sgd` needs `lr`"), "{e}");
    assert_eq!(e.option.as_deref(), Some("lr"));
    assert!(err(config("spsa", Some(0.1), &[])).message.contains("`spsa` needs `c`"));
    assert!(err(config("forward_gradient", None, &[])).message.contains("needs `lr`"));
    assert!(err(config("adam", None, &[("eps", 1.0), ("eps", 2.0)])).message.contains("`eps` is given twice"));
    assert!(err(config("adam", Some(0.1), &[("lr", 0.2)])).message.contains("`lr` is given twice"));
    for (name, option, value, wants) in [
        ("adam", "beta1", 1.0, "in [0, 1)"),
        ("adam", "lr", -1.0, "≥ 0"),
        ("adam", "lr", f64::NAN, "≥ 0"),
        ("lbfgs", "history", 0.5, "whole number"),
        ("lbfgs", "history", 0.0, "whole number"),
        ("forward_gradient", "samples", 2.5, "whole number"),
        ("sgd", "nesterov", 2.0, "0 or 1"),
        ("sgd", "momentum", -0.5, "≥ 0"),
        ("rmsprop", "alpha", 1.5, "in [0, 1)"),
        ("spsa", "c", 0.0, "> 0"),
        ("adam", "clip", 0.0, "> 0"),
        ("adahessian", "hessian_power", 2.0, "in (0, 1]"),
        ("newton", "damping", f64::INFINITY, "≥ 0"),
    ] {
        let mut options = vec![(option, value)];
        if name == "spsa" && option != "c" {
            options.push(("c", 0.1));
        }
        let lr = (option != "lr").then_some(0.1);
        let e = err(config(name, lr, &options));
        assert!(e.message.contains(wants) && e.message.contains(option), "{name}({option} = {value}): {e}");
        assert_eq!(e.option.as_deref(), Some(option));
    }
    assert!(err(config("sgd", Some(0.1), &[("nesterov", 1.0)])).message.contains("needs `momentum` > 0"));
    let bad_schedule =
        OptimizerConfig { lr: Some(Schedule::Cosine { lr: 0.1, steps: 0 }), ..config("adam", None, &[]) };
    assert!(err(bad_schedule).message.contains("steps"));
    let bad_schedule = OptimizerConfig {
        lr: Some(Schedule::StepDecay { lr: 0.1, every: 0, factor: 0.5 }),
        ..config("adam", None, &[])
    };
    assert!(err(bad_schedule).message.contains("every"));

    let ints = vec![Tensor::scalar_i64(3)];
    let e = Optimizer::new(&config("adam", None, &[]), &ints).unwrap_err();
    assert!(e.message.contains("param 0 is i64"), "{e}");

    assert_eq!(option_names("sgd").unwrap(), ["lr", "momentum", "nesterov", "weight_decay", "clip"]);
    assert_eq!(option_names("rda").unwrap(), ["samples"]);
    assert_eq!(requires_lr("sgd"), Some(true));
    assert_eq!(requires_lr("adam"), Some(false));
    assert_eq!(requires_lr("rda"), Some(false));
    assert_eq!(requires_lr("nothing"), None);
}

#[test]
fn lr_may_come_as_a_plain_option() {
    assert_eq!(first_step(&config("sgd", None, &[("lr", 0.5)]), &[0.0; 3], &[1.0, 2.0, 4.0], 1), [-0.5, -1.0, -2.0]);
}

/// The cost of one Adam update over P2's params (85,002 f32 in 6 tensors), with a free
/// objective, printed (`cargo test --release -p gradc-runtime --test optim adam_update_cost
/// -- --nocapture`); never asserted.
#[test]
fn adam_update_cost_on_p2_params() {
    struct Fixed(Vec<Tensor>);
    impl Objective for Fixed {
        type Error = ();
        fn value(&mut self, _: &[Tensor]) -> Result<f64, ()> {
            Ok(1.0)
        }
        fn value_and_grad(&mut self, _: &[Tensor]) -> Result<(f64, Vec<Tensor>), ()> {
            Ok((1.0, self.0.clone()))
        }
        fn value_and_jvp(&mut self, _: &[Tensor], _: &[Tensor]) -> Result<(f64, f64), ()> {
            Err(())
        }
        fn hvp(&mut self, _: &[Tensor], _: &[Tensor]) -> Result<Vec<Tensor>, ()> {
            Err(())
        }
        fn errors_and_rgrad(&mut self, _: &[Tensor]) -> Result<(f64, Vec<Tensor>), ()> {
            Err(())
        }
    }
    let shapes: [&[usize]; 6] = [&[64, 256], &[256], &[256, 256], &[256], &[256, 10], &[10]];
    let mut params: Vec<Tensor> = shapes.iter().map(|s| Tensor::try_filled(DType::F32, s, 0.5).unwrap()).collect();
    let grads: Vec<Tensor> = shapes.iter().map(|s| Tensor::try_filled(DType::F32, s, 0.01).unwrap()).collect();
    let config = OptimizerConfig { name: "adam".into(), lr: Some(Schedule::Constant(1e-3)), options: vec![] };
    let mut opt = Optimizer::new(&config, &params).unwrap();
    let mut obj = Fixed(grads);
    let mut rng = Rng::seed_from_u64(0);
    let mut times: Vec<f64> = (0..200)
        .map(|step| {
            let t = std::time::Instant::now();
            opt.step(step, &mut params, &mut obj, &mut rng).unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("adam step over 85,002 f32 params (gradient copy included): median {:.3} ms", times[100]);
}

// ---------------------------------------------------------------- rda

/// The identity circuit against a target: the error bits are `p ⊕ target`, and the reverse
/// derivative of the identity passes them through, so a full step lands on the target.
struct Identity {
    target: Vec<bool>,
}

impl Objective for Identity {
    type Error = String;
    fn value(&mut self, _: &[Tensor]) -> Result<f64, String> {
        unreachable!("rda calls errors_and_rgrad only")
    }
    fn value_and_grad(&mut self, _: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
        unreachable!("rda calls errors_and_rgrad only")
    }
    fn value_and_jvp(&mut self, _: &[Tensor], _: &[Tensor]) -> Result<(f64, f64), String> {
        unreachable!("rda calls errors_and_rgrad only")
    }
    fn hvp(&mut self, _: &[Tensor], _: &[Tensor]) -> Result<Vec<Tensor>, String> {
        unreachable!("rda calls errors_and_rgrad only")
    }
    fn errors_and_rgrad(&mut self, params: &[Tensor]) -> Result<(f64, Vec<Tensor>), String> {
        let Buffer::Bool(p) = params[0].data() else { return Err("not bool".into()) };
        let errors: Vec<bool> = p.iter().zip(&self.target).map(|(a, b)| a ^ b).collect();
        let count = errors.iter().filter(|&&e| e).count() as f64;
        Ok((count, vec![Tensor::new(params[0].shape().to_vec(), Buffer::Bool(errors)).unwrap()]))
    }
}

fn bools(v: &[bool]) -> Tensor {
    Tensor::new(vec![v.len()], Buffer::Bool(v.to_vec())).unwrap()
}

fn bool_vec(t: &Tensor) -> Vec<bool> {
    match t.data() {
        Buffer::Bool(v) => v.clone(),
        _ => panic!("not bool"),
    }
}

#[test]
fn rda_flips_the_marked_bits() {
    let target = vec![true, false, true, true, false, false, true, false];
    let mut obj = Identity { target: target.clone() };
    let mut params = vec![bools(&[false; 8])];
    let mut opt = Optimizer::new(&config("rda", None, &[]), &params).unwrap();
    assert_eq!(opt.uses(), Uses { errors_and_rgrad: true, ..Uses::default() });
    let mut rng = Rng::seed_from_u64(0);
    let before = rng.clone();
    assert_eq!(opt.step(0, &mut params, &mut obj, &mut rng).unwrap(), 4.0);
    assert_eq!(bool_vec(&params[0]), target);
    assert_eq!(opt.step(1, &mut params, &mut obj, &mut rng).unwrap(), 0.0);
    assert_eq!(rng.state(), before.state(), "a full step draws nothing");
    assert!(opt.state().is_empty());
}

#[test]
fn rda_with_samples_flips_that_many_marked_bits_chosen_by_the_generator() {
    let target = vec![true; 10];
    let run_with = |seed: u64| -> Vec<Vec<bool>> {
        let mut obj = Identity { target: target.clone() };
        let mut params = vec![bools(&[false; 10])];
        let mut opt = Optimizer::new(&config("rda", None, &[("samples", 3.0)]), &params).unwrap();
        let mut rng = Rng::seed_from_u64(seed);
        let mut seen = Vec::new();
        for (step, expected) in [10.0, 7.0, 4.0, 1.0, 0.0].into_iter().enumerate() {
            assert_eq!(opt.step(step, &mut params, &mut obj, &mut rng).unwrap(), expected);
            seen.push(bool_vec(&params[0]));
        }
        seen
    };
    let a = run_with(1);
    // Each step flips 3 bits (the last one the single bit left), all of them wrong ones.
    for (i, p) in a.iter().enumerate() {
        assert_eq!(p.iter().filter(|&&b| b).count(), (3 * (i + 1)).min(10));
    }
    assert_eq!(a, run_with(1), "the same seed picks the same bits");
    let others: Vec<Vec<Vec<bool>>> = (2..6).map(run_with).collect();
    assert!(others.iter().any(|o| o[0] != a[0]), "the picks depend on the generator");
}

#[test]
fn rda_trains_bool_params_and_takes_neither_lr_nor_clip() {
    let floats = vec![f64s(&[2], &[0.0, 1.0])];
    let e = Optimizer::new(&config("rda", None, &[]), &floats).unwrap_err();
    assert!(e.message.contains("trains bool params only"), "{e}");
    let b = vec![bools(&[true])];
    let e = Optimizer::new(&config("sgd", Some(0.1), &[]), &b).unwrap_err();
    assert!(e.message.contains("trains f64 and f32 params only"), "{e}");
    for (key, value) in [("lr", 0.1), ("clip", 1.0)] {
        let e = Optimizer::new(&config("rda", None, &[(key, value)]), &b).unwrap_err();
        assert_eq!(e.option.as_deref(), Some(key), "{e}");
    }
    let e = Optimizer::new(&config("rda", None, &[("samples", 0.5)]), &b).unwrap_err();
    assert!(e.message.contains("whole number"), "{e}");
}
