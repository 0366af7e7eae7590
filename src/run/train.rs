//! `train` blocks (LANGUAGE.md §8): the optimizer loop.
//!
//! The loss (a named function, a lambda or a derivative operator: `lower::callee_graph`) is
//! lowered once, and its derivative graphs with respect to the params are built
//! once (value and gradient; the JVP, HVP and Hessian only for the optimizers that ask; for
//! `rda` the error count and the reverse derivative over Z2 at the error bits). Each
//! step slices a batch from the data arguments, draws fresh random arguments, and lets the
//! optimizer query the loss through [`LossObjective`].
//!
//! Determinism (a resumed run ends with exactly the params of an uninterrupted one): the row
//! order of epoch `e` comes from its own generator seeded by `(seed, e)`, so it is recomputed
//! on resume rather than stored; random arguments and stochastic optimizers draw from the run's
//! generator, whose state every checkpoint holds; the interpreter reduces in a fixed order.

use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gradc_compiler::check::hir::{self, Length, Train};
use gradc_compiler::check::types::Elem;
use gradc_compiler::diag::{codes, Diagnostic};
use gradc_compiler::interp::Inputs;
use gradc_compiler::ir::{Source, Type};
use gradc_compiler::lower::{self, Draw};
use gradc_compiler::passes::simplify::simplify;
use gradc_compiler::source::Span;
use gradc_runtime::checkpoint::{self, Checkpoint};
use gradc_runtime::optim::{Objective, Optimizer, OptimizerConfig, Schedule};
use gradc_runtime::progress::{summary_line, Mode, Progress};
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{Buffer, Tensor};

use super::{eval_error, Executable, RunResult, Runner};

/// Set by Ctrl-C; the loop writes a checkpoint and stops with exit status 130.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C stop a `train` (with E097) rather than the process. The REPL installs it
/// at its start, so that Ctrl-C during a line never ends the session.
pub fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // If a handler cannot be installed, Ctrl-C simply ends the process as usual.
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

/// Forgets a Ctrl-C that no `train` has seen: the REPL's next line starts afresh.
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// The compiled pieces of one `train` block.
struct Compiled {
    /// Which program params the optimizer updates (the float ones; the `bool` ones for
    /// `rda`), with their IR types.
    trainable: Vec<(Source, Type)>,
    value: Rc<Executable>,
    value_and_grad: Option<Rc<Executable>>,
    jvp: Option<Rc<Executable>>,
    hvp: Option<Rc<Executable>>,
    rgrad: Option<Rc<Executable>>,
    span: Span,
}

pub fn train(runner: &mut Runner, t: &Train, index: usize, out: &mut dyn Write) -> RunResult<()> {
    let program = &runner.checked.program;
    let compile_start = Instant::now();
    // A named loss, a lambda or a derivative operator: the same function graph either way.
    let loss = lower::callee_graph(program, &t.loss_locals, &t.loss, t.span)?;
    // The random directions of stochastic operators in the loss: arguments after the loss's
    // own, drawn afresh at every step from this block's generator (checkpointed, so a
    // resumed run draws what the uninterrupted one would have).
    let (loss, loss_draws) = {
        let (graph, draws) = lower::draws_as_args(&loss.graph, loss.inputs.len() as u32);
        let inputs = loss.inputs.iter().cloned().chain(draws.iter().map(|d| d.ty.clone())).collect();
        (lower::FnGraph { graph, inputs, n_params: loss.n_params }, draws)
    };
    let value = simplify(&loss.graph);
    // The params the loss reads, float ones (`bool` ones for `rda`): the others keep their values.
    let rda = t.options.optimizer.name == "rda";
    let read: Vec<Source> = value.inputs().map(|(_, s)| s).collect();
    let trainable: Vec<(Source, Type)> = program
        .params
        .iter()
        .enumerate()
        .filter(|(k, p)| (if rda { p.ty.elem == Elem::Bool } else { p.ty.elem.is_float() }) && read.contains(&Source::Param(*k as u32)))
        .map(|(k, p)| (Source::Param(k as u32), lower::ir_type(&hir_tensor(&p.ty))))
        .collect();
    if trainable.is_empty() {
        let kind = if rda { "bool" } else { "float" };
        return Err(Box::new(
            Diagnostic::new(codes::BAD_OPTION, format!("`{}` reads no {kind} param, so there is nothing to train", t.loss_name), t.span, "nothing to train")
                .with_hint(if rda { "`rda` flips the `bool` params the loss uses; declare the circuit's table or gates with `param`" } else { "the optimizer updates the `param`s the loss uses; declare the model's weights with `param`" }),
        ));
    }
    let config = OptimizerConfig {
        name: t.options.optimizer.name.clone(),
        lr: t.options.optimizer.lr.as_ref().map(schedule),
        options: t.options.optimizer.options.clone(),
    };
    let mut params: Vec<Tensor> = trainable.iter().map(|(s, _)| runner.params[param_index(*s)].clone()).collect();
    let mut optimizer = Optimizer::new(&config, &params).map_err(|e| {
        Box::new(Diagnostic::new(codes::BAD_OPTION, format!("optimizer `{}`: {e}", config.name), t.span, "in this `train`"))
    })?;
    // Only the derivative graphs this optimizer asks for.
    let uses = optimizer.uses();
    let value_and_grad = if uses.value_and_grad { Some(lower::value_and_param_grad(&loss, &trainable, t.span)?) } else { None };
    let jvp = uses.value_and_jvp.then(|| lower::param_jvp(&loss, &trainable));
    let hvp = if uses.hvp || uses.hessian { Some(lower::param_hvp(&loss, &trainable, t.span)?) } else { None };
    let rgrad = uses.errors_and_rgrad.then(|| lower::param_rgrad(&loss, &trainable));
    let compiled = Compiled {
        value: runner.compile(value),
        value_and_grad: value_and_grad.map(|g| runner.compile(g)),
        jvp: jvp.map(|g| runner.compile(g)),
        hvp: hvp.map(|g| runner.compile(g)),
        rgrad: rgrad.map(|g| runner.compile(g)),
        trainable,
        span: t.span,
    };

    // The arguments: computed once, except random draws, which are fresh at every step.
    let bodies: Vec<&hir::Body> = t.args.iter().map(|a| &a.value).collect();
    let (args_graph, draws) = lower::lower_bodies_with_draws(program, "train arguments", &bodies)?;
    let args_graph = runner.compile(simplify(&args_graph));
    let seed = t.options.seed.unwrap_or(runner.seed);
    let mut rng = Rng::seed_from_u64(seed);
    let fixed_args = if draws.is_empty() { Some(runner.eval_graph(&args_graph, &[], t.span)?) } else { None };

    // Batches.
    let batched: Vec<bool> = t.args.iter().map(|a| a.batched).collect();
    let sample = match &fixed_args {
        Some(a) => a.clone(),
        None => runner.eval_graph(&args_graph, &draw_all(&draws, &mut Rng::seed_from_u64(seed))?, t.span)?,
    };
    let rows = batched.iter().zip(&sample).find(|(b, _)| **b).map(|(_, a)| a.shape()[0]);
    let batch = match (rows, t.options.batch) {
        (Some(rows), Some(b)) => b.min(rows),
        (Some(rows), None) => rows,
        (None, _) => 1,
    };
    let steps_per_epoch = rows.map_or(1, |r| (r / batch.max(1)).max(1));
    let total = match t.options.length {
        Length::Steps(n) => n as u64,
        Length::Epochs(e) => (e * steps_per_epoch) as u64,
    };

    // Resume.
    // `PROGRAM/trainN`: checkpoints name the program and the block that wrote them.
    let block_prefix = format!("{}/train", runner.fingerprint());
    let fingerprint = format!("{block_prefix}{index}");
    let mut start = 0u64;
    let mut train_history: Vec<(u64, f64)> = Vec::new();
    let mut validation_history: Vec<(u64, f64)> = Vec::new();
    if let Some(path) = runner.resume.clone() {
        // A checkpoint of a later `train` block of this program: this one was finished when
        // it was written, so it is skipped (its params come back with the checkpoint's).
        if let Ok(ckpt) = checkpoint::load(&path) {
            let later = ckpt.program.strip_prefix(&block_prefix).and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n > index);
            if later {
                if !runner.quiet {
                    eprintln!("train {}: skipped, `--resume {}` continues a later `train` block", t.loss_name, path.display());
                }
                return Ok(());
            }
        }
        let ckpt = checkpoint::load_for_program(&path, &fingerprint).map_err(|e| {
            Box::new(Diagnostic::new(codes::LOAD_FAILED, format!("cannot resume: {e}"), t.span, "this `train`")
                .with_hint("`--resume` takes a checkpoint this program wrote"))
        })?;
        // Every param comes back (blocks before this one trained some of them).
        for (k, decl) in program.params.iter().enumerate() {
            let current = &runner.params[k];
            match ckpt.params.iter().find(|(n, _)| *n == decl.name) {
                Some((_, v)) if v.shape() == current.shape() && v.dtype() == current.dtype() => runner.params[k] = v.clone(),
                _ => return Err(Box::new(Diagnostic::new(codes::LOAD_FAILED, format!("the checkpoint has no matching param `{}`", decl.name), t.span, "this `train`"))),
            }
        }
        for ((source, _), p) in compiled.trainable.iter().zip(params.iter_mut()) {
            *p = runner.params[param_index(*source)].clone();
        }
        optimizer.load_state(&ckpt.optimizer).map_err(|e| {
            Box::new(Diagnostic::new(codes::LOAD_FAILED, format!("the checkpoint's optimizer state does not fit: {e}"), t.span, "this `train`"))
        })?;
        rng = ckpt.rng().expect("load checks the generator state");
        start = ckpt.step;
        train_history = ckpt.train_history;
        validation_history = ckpt.validation_history;
        runner.resume = None;
    }
    let validate = match &t.options.validate {
        Some(body) => {
            let (g, draws) = lower::lower_bodies_with_draws(program, "validate", &[body])?;
            Some((runner.compile(simplify(&g)), draws))
        }
        None => None,
    };
    let compile_time = compile_start.elapsed();

    install_interrupt_handler();
    let label = format!("train {}", t.loss_name);
    let mut progress = Progress::new(total, &label, Mode::detect(runner.quiet)).starting_at(start);
    let log_every = t.options.log_every.unwrap_or(((total / 10).max(1)) as usize) as u64;
    let mut log_file = match &t.options.log {
        Some(path) => Some(open_log(path, t.span)?),
        None => None,
    };
    let train_start = Instant::now();
    let mut last_loss = f64::NAN;
    let mut step = start;
    let mut order: (u64, Vec<usize>) = (u64::MAX, Vec::new());
    let save = |runner: &Runner, step: u64, params: &[Tensor], optimizer: &Optimizer, rng: &Rng, th: &[(u64, f64)], vh: &[(u64, f64)]| -> RunResult<()> {
        let Some(path) = &t.options.checkpoint else { return Ok(()) };
        let ckpt = Checkpoint {
            step,
            params: runner.named_params(&compiled.trainable, params),
            optimizer: optimizer.state(),
            rng: rng.state(),
            program: fingerprint.clone(),
            train_history: th.to_vec(),
            validation_history: vh.to_vec(),
        };
        checkpoint::save(path, &ckpt).map_err(|e| {
            Box::new(Diagnostic::new(codes::SAVE_FAILED, e.to_string(), t.span, "this `train`"))
        })
    };
    while step < total {
        if INTERRUPTED.load(Ordering::SeqCst) {
            progress.finish();
            save(runner, step, &params, &optimizer, &rng, &train_history, &validation_history)?;
            runner.set_params(&compiled.trainable, &params);
            return Err(Box::new(
                Diagnostic::new(codes::INTERRUPTED, format!("interrupted at step {step} of {total}"), t.span, "this `train`")
                    .with_hint(match &t.options.checkpoint {
                        Some(p) => format!("the checkpoint `{}` holds step {step}; continue with `--resume {}`", p.display(), p.display()),
                        None => "add `checkpoint = \"run.safetensors\"` to be able to resume".to_string(),
                    }),
            ));
        }
        // This step's arguments.
        let epoch = step / steps_per_epoch as u64;
        if order.0 != epoch {
            order = (epoch, epoch_order(rows.unwrap_or(1), seed, epoch, t.options.shuffle));
        }
        let within = (step % steps_per_epoch as u64) as usize;
        let full = match &fixed_args {
            Some(a) => std::borrow::Cow::Borrowed(a),
            None => std::borrow::Cow::Owned(runner.eval_graph(&args_graph, &draw_all(&draws, &mut rng)?, t.span)?),
        };
        let rows_of_batch = &order.1[within * batch..(within + 1) * batch];
        let mut args: Vec<Tensor> = full
            .iter()
            .zip(&batched)
            .map(|(a, &b)| if b { take_rows(a, rows_of_batch) } else { Ok(a.clone()) })
            .collect::<Result<_, _>>()
            .map_err(|e| Box::new(Diagnostic::new(codes::OUT_OF_MEMORY, e.to_string(), t.span, "this `train`")))?;
        args.extend(draw_all(&loss_draws, &mut rng)?);
        let mut objective = LossObjective { runner, compiled: &compiled, args: &args };
        let loss = optimizer.step(step as usize, &mut params, &mut objective, &mut rng)?;
        step += 1;
        if !loss.is_finite() {
            progress.finish();
            runner.set_params(&compiled.trainable, &params);
            let kept = match &t.options.checkpoint {
                Some(p) if p.exists() => format!("the last good checkpoint, `{}`, is kept", p.display()),
                _ => "no checkpoint was written".to_string(),
            };
            return Err(Box::new(
                Diagnostic::new(codes::NON_FINITE_LOSS, format!("the loss is {loss} at step {step}"), t.span, "this `train`")
                    .with_hint(format!("{kept}; lower the learning rate, add `clip = 1.0`, or look for a log or division of zero in the loss")),
            ));
        }
        last_loss = loss;
        progress.update(step, loss);
        if step.is_multiple_of(log_every) || step == total {
            train_history.push((step, loss));
            let val = match &validate {
                Some((g, draws)) => {
                    runner.set_params(&compiled.trainable, &params);
                    let v = runner.eval_graph(g, &draw_all(draws, &mut rng)?, t.span)?;
                    v.first().and_then(loss_number)
                }
                None => None,
            };
            if let Some(v) = val {
                validation_history.push((step, v));
            }
            progress.log(step, loss, val);
            if let Some(f) = &mut log_file {
                let _ = writeln!(f, "{step},{loss:?},{},{:.6}", val.map(|v| format!("{v:?}")).unwrap_or_default(), train_start.elapsed().as_secs_f64());
            }
        }
        if t.options.checkpoint_every.is_some_and(|every| step.is_multiple_of(every as u64)) && step < total {
            save(runner, step, &params, &optimizer, &rng, &train_history, &validation_history)?;
        }
    }
    progress.finish();
    let train_time = train_start.elapsed();
    runner.set_params(&compiled.trainable, &params);
    save(runner, step, &params, &optimizer, &rng, &train_history, &validation_history)?;
    if let Some(path) = &t.options.plot {
        gradc_runtime::plot::loss_plot(path, &train_history, &validation_history, &label).map_err(|e| {
            Box::new(Diagnostic::new(codes::SAVE_FAILED, format!("cannot draw the loss plot: {e}"), t.span, "this `train`"))
        })?;
    }
    let _ = writeln!(out, "{}", summary_line(&label, step - start, train_time, compile_time, last_loss));
    Ok(())
}

/// The loss at the current batch, for the optimizer.
struct LossObjective<'r, 'c> {
    runner: &'r Runner<'c>,
    compiled: &'r Compiled,
    args: &'r [Tensor],
}

impl LossObjective<'_, '_> {
    /// Runs a graph of the loss with the optimizer's params in place of the trainable ones.
    fn run(&self, exe: &Executable, params: &[Tensor], extra: &[Tensor]) -> RunResult<Vec<Tensor>> {
        let all = self.runner.params_with(&self.compiled.trainable, params);
        let args: std::borrow::Cow<[Tensor]> = if extra.is_empty() {
            std::borrow::Cow::Borrowed(self.args)
        } else {
            std::borrow::Cow::Owned([self.args, extra].concat())
        };
        let inputs = Inputs { args: &args, params: &all, data: &self.runner.data };
        exe.run(&inputs).map_err(|(n, e)| eval_error(exe.graph(), n, e, self.compiled.span))
    }
}

impl Objective for LossObjective<'_, '_> {
    type Error = Box<Diagnostic>;

    fn value(&mut self, params: &[Tensor]) -> RunResult<f64> {
        let out = self.run(&self.compiled.value, params, &[])?;
        Ok(out[0].scalar_value().unwrap_or(f64::NAN))
    }

    fn value_and_grad(&mut self, params: &[Tensor]) -> RunResult<(f64, Vec<Tensor>)> {
        let g = self.compiled.value_and_grad.as_ref().expect("built for gradient optimizers");
        let mut out = self.run(g, params, &[])?;
        let loss = out[0].scalar_value().unwrap_or(f64::NAN);
        Ok((loss, out.split_off(1)))
    }

    fn value_and_jvp(&mut self, params: &[Tensor], direction: &[Tensor]) -> RunResult<(f64, f64)> {
        let g = self.compiled.jvp.as_ref().expect("built for optimizers that use the JVP");
        // The tangent inputs come right after the loss's own arguments.
        let out = self.run(g, params, direction)?;
        Ok((out[0].scalar_value().unwrap_or(f64::NAN), out[1].scalar_value().unwrap_or(f64::NAN)))
    }

    fn hvp(&mut self, params: &[Tensor], v: &[Tensor]) -> RunResult<Vec<Tensor>> {
        let g = self.compiled.hvp.as_ref().expect("built for optimizers that use the HVP");
        self.run(g, params, v)
    }

    fn errors_and_rgrad(&mut self, params: &[Tensor]) -> RunResult<(f64, Vec<Tensor>)> {
        let g = self.compiled.rgrad.as_ref().expect("built for `rda`");
        let mut out = self.run(g, params, &[])?;
        let errors = out[0].scalar_value().unwrap_or(f64::NAN);
        Ok((errors, out.split_off(1)))
    }

}

/// The number a loss value stands for in logs and validation: a float scalar as it is; the
/// error bits of a `bool` loss (`rda`) as how many are set.
fn loss_number(t: &Tensor) -> Option<f64> {
    match t.data() {
        Buffer::Bool(bits) => Some(bits.iter().filter(|&&b| b).count() as f64),
        _ => t.scalar_value(),
    }
}

/// The rows of epoch `epoch`: shuffled by a generator of its own, or in data order.
fn epoch_order(rows: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    if shuffle {
        let mut rng = Rng::seed_from_u64(seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.shuffle(&mut order);
    }
    order
}

/// The given rows (along the first axis) of a tensor.
fn take_rows(t: &Tensor, rows: &[usize]) -> Result<Tensor, gradc_runtime::tensor::AllocError> {
    let row: usize = t.shape()[1..].iter().product();
    let mut shape = t.shape().to_vec();
    shape[0] = rows.len();
    fn pick<T: Copy>(v: &[T], rows: &[usize], row: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(rows.len() * row);
        for &r in rows {
            out.extend_from_slice(&v[r * row..(r + 1) * row]);
        }
        out
    }
    gradc_runtime::tensor::checked_len(t.dtype(), &shape)?;
    let data = match t.data() {
        Buffer::F64(v) => Buffer::F64(pick(v, rows, row)),
        Buffer::F32(v) => Buffer::F32(pick(v, rows, row)),
        Buffer::I64(v) => Buffer::I64(pick(v, rows, row)),
        Buffer::Bool(v) => Buffer::Bool(pick(v, rows, row)),
    };
    Ok(Tensor::new(shape, data).expect("lengths match"))
}

/// Fresh values for every random draw of the arguments, in order.
pub(crate) fn draw_all(draws: &[Draw], rng: &mut Rng) -> RunResult<Vec<Tensor>> {
    let mut out = Vec::with_capacity(draws.len());
    for d in draws {
        let n = gradc_runtime::tensor::checked_len(d.ty.dtype, &d.ty.shape)
            .map_err(|e| Box::new(Diagnostic::new(codes::OUT_OF_MEMORY, e.to_string(), d.span, "this draw")))?;
        let values: Vec<f64> = (0..n)
            .map(|_| match d.draw {
                hir::RandomDraw::Normal { mean, std } => mean + std * rng.normal_f64(),
                hir::RandomDraw::Uniform { lo, hi } => rng.uniform_range(lo, hi),
                hir::RandomDraw::Rademacher => if rng.next_u64() >> 63 == 1 { 1.0 } else { -1.0 },
            })
            .collect();
        out.push(Tensor::from_f64s(d.ty.dtype, d.ty.shape.clone(), &values).expect("lengths match"));
    }
    Ok(out)
}

fn schedule(s: &hir::Schedule) -> Schedule {
    match *s {
        hir::Schedule::Constant(lr) => Schedule::Constant(lr),
        hir::Schedule::Cosine { lr, steps } => Schedule::Cosine { lr, steps },
        hir::Schedule::StepDecay { lr, every, factor } => Schedule::StepDecay { lr, every, factor },
    }
}

fn open_log(path: &Path, span: Span) -> RunResult<std::fs::File> {
    let mut f = std::fs::File::create(path).map_err(|e| {
        Box::new(Diagnostic::new(codes::SAVE_FAILED, format!("cannot write the training log `{}`: {e}", path.display()), span, "this `train`"))
    })?;
    let _ = writeln!(f, "step,loss,validation_loss,seconds");
    Ok(f)
}

pub(super) fn param_index(s: Source) -> usize {
    match s {
        Source::Param(k) => k as usize,
        _ => unreachable!("trainable inputs are params"),
    }
}

fn hir_tensor(t: &gradc_compiler::check::types::TensorTy) -> gradc_compiler::check::types::Ty {
    gradc_compiler::check::types::Ty::Tensor(t.clone())
}
