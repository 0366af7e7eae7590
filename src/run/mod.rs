//! Running a checked program: params initialised from the run's seed, data sets loaded,
//! then the statements top to bottom (LANGUAGE.md §4). Each statement's expressions are
//! lowered into one graph, simplified, and evaluated.
//!
//! Every failure is a [`Diagnostic`] pointing into the source; nothing here panics on user
//! input.

mod exec;
pub(crate) mod init;
mod train;

pub use exec::{Backend, Executable};
pub use train::{clear_interrupt, install_interrupt_handler};
pub(crate) use train::draw_all;

use std::io::Write;
use std::path::Path;

use gradc_compiler::check::hir::{self, Body, PrintItem, Stmt};
use gradc_compiler::check::types::Ty;
use gradc_compiler::check::Checked;
use gradc_compiler::diag::{codes, Diagnostic};
use gradc_compiler::interp::{EvalError, Inputs};
use gradc_compiler::ir::{Graph, NodeId};
use gradc_compiler::lower;
use gradc_compiler::passes::simplify::simplify;
use gradc_compiler::source::Span;
use gradc_runtime::tensor::Tensor;
use gradc_runtime::{bench, format, safetensors_io};

pub type RunResult<T> = Result<T, Box<Diagnostic>>;

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The seed of random initialisers, and of `train` blocks without their own (`--seed`).
    pub seed: u64,
    /// No progress output (`--quiet`).
    pub quiet: bool,
    /// A checkpoint to continue from (`--resume`).
    pub resume: Option<std::path::PathBuf>,
    /// Native code or the interpreter (`--backend`).
    pub backend: Backend,
    /// Threads for large loops (`--threads`; default: all cores).
    pub threads: Option<usize>,
}

/// The state of a running program.
pub struct Runner<'c> {
    checked: &'c Checked,
    params: Vec<Tensor>,
    data: Vec<Tensor>,
    seed: u64,
    quiet: bool,
    /// Consumed by the `train` block the checkpoint belongs to.
    resume: Option<std::path::PathBuf>,
    backend: Backend,
    threads: Option<usize>,
    cache: exec::Cache,
    /// The run's generator after the params' initialisers: the random directions of
    /// stochastic operators in statements (`print`, `assert`, `bench`) come from it, fresh at
    /// every evaluation. (`train` blocks draw from their own, checkpointed, generator.)
    rng: std::cell::RefCell<gradc_runtime::rng::Rng>,
}

/// Runs every statement of a checked program, printing to `out`.
pub fn run(checked: &Checked, options: &RunOptions, out: &mut dyn Write) -> RunResult<()> {
    let mut runner = Runner::new(checked, options)?;
    run_statements(&mut runner, out)
}

/// Runs a program whose params may already have values (the REPL's session, where each line
/// is a program and params keep their values from line to line): `carried[k]`, when given,
/// replaces param `k`'s initial value. Gives the params' values at the end, also when a
/// statement failed (a `train` before a failing `assert` has still trained).
pub fn run_carrying(checked: &Checked, options: &RunOptions, carried: Vec<Option<Tensor>>, out: &mut dyn Write) -> (Option<Vec<Tensor>>, RunResult<()>) {
    let mut runner = match Runner::new(checked, options) {
        Ok(r) => r,
        Err(d) => return (None, Err(d)),
    };
    for (k, v) in carried.into_iter().enumerate() {
        if let Some(v) = v.filter(|v| runner.params.get(k).is_some_and(|p| p.dtype() == v.dtype() && p.shape() == v.shape())) {
            runner.params[k] = v;
        }
    }
    let result = run_statements(&mut runner, out);
    (Some(runner.params), result)
}

fn run_statements(runner: &mut Runner, out: &mut dyn Write) -> RunResult<()> {
    let checked = runner.checked;
    let mut trains = 0;
    for stmt in &checked.program.stmts {
        if let Stmt::Train(t) = stmt {
            train::train(runner, t, trains, out)?;
            trains += 1;
            continue;
        }
        runner.statement(stmt, out)?;
    }
    if let Some(path) = &runner.resume {
        return Err(Box::new(Diagnostic::new(
            codes::LOAD_FAILED,
            format!("`--resume {}`: no `train` block of this program wrote that checkpoint", path.display()),
            Span::default(),
            "",
        )));
    }
    Ok(())
}

impl<'c> Runner<'c> {
    /// Initialises the params (in declaration order, from one generator seeded by `seed`) and
    /// loads the data sets.
    pub fn new(checked: &'c Checked, options: &RunOptions) -> RunResult<Runner<'c>> {
        let program = &checked.program;
        let mut rng = gradc_runtime::rng::Rng::seed_from_u64(options.seed);
        let params = program.params.iter().map(|p| init::param(p, &mut rng)).collect::<RunResult<_>>()?;
        let data = program.data.iter().map(init::data).collect::<RunResult<_>>()?;
        let rng = std::cell::RefCell::new(rng);
        Ok(Runner { checked, params, data, seed: options.seed, quiet: options.quiet, resume: options.resume.clone(), backend: options.backend, threads: options.threads, cache: exec::Cache::default(), rng })
    }

    /// A graph compiled for this run's backend (once per distinct graph).
    fn compile(&self, graph: Graph) -> std::rc::Rc<Executable> {
        self.cache.get_or_compile(graph, self.backend, self.threads)
    }

    /// Evaluates a statement graph with these arguments.
    fn eval_graph(&self, exe: &Executable, args: &[Tensor], span: Span) -> RunResult<Vec<Tensor>> {
        let inputs = Inputs { args, params: &self.params, data: &self.data };
        exe.run(&inputs).map_err(|(n, e)| eval_error(exe.graph(), n, e, span))
    }

    /// A fingerprint of the program's text (every file), which checkpoints carry so that
    /// `--resume` refuses another program's.
    fn fingerprint(&self) -> String {
        // FNV-1a: stable across Rust versions and machines, unlike `DefaultHasher`.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (_, file) in self.checked.sources.files() {
            for b in file.text.bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }

    /// The trainable params under their names.
    /// Every param under its name, with `values` in place of the trainable ones: what a
    /// checkpoint holds, so that resuming restores earlier blocks' training too.
    fn named_params(&self, trainable: &[(gradc_compiler::ir::Source, gradc_compiler::ir::Type)], values: &[Tensor]) -> Vec<(String, Tensor)> {
        let all = self.params_with(trainable, values);
        self.checked.program.params.iter().map(|p| p.name.clone()).zip(all.iter().cloned()).collect()
    }

    /// Every param, with `values` in place of the trainable ones.
    /// Called for every evaluation of the loss: when every param is trainable (`trainable` is
    /// in param order), the optimizer's values are the params as they are, with no copy.
    fn params_with<'a>(&'a self, trainable: &[(gradc_compiler::ir::Source, gradc_compiler::ir::Type)], values: &'a [Tensor]) -> std::borrow::Cow<'a, [Tensor]> {
        if trainable.len() == self.params.len() {
            return std::borrow::Cow::Borrowed(values);
        }
        let mut all = self.params.clone();
        for ((s, _), v) in trainable.iter().zip(values) {
            all[train::param_index(*s)] = v.clone();
        }
        std::borrow::Cow::Owned(all)
    }

    fn set_params(&mut self, trainable: &[(gradc_compiler::ir::Source, gradc_compiler::ir::Type)], values: &[Tensor]) {
        for ((s, _), v) in trainable.iter().zip(values) {
            self.params[train::param_index(*s)] = v.clone();
        }
    }

    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn statement(&mut self, stmt: &Stmt, out: &mut dyn Write) -> RunResult<()> {
        match stmt {
            Stmt::Print { items, .. } => {
                let bodies: Vec<&Body> = items.iter().filter_map(|i| match i {
                    PrintItem::Value(b) => Some(b),
                    PrintItem::Text(_) => None,
                }).collect();
                let values = self.eval("print", &bodies)?;
                let mut leaves = values.iter();
                let mut words = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        PrintItem::Text(t) => words.push(t.clone()),
                        PrintItem::Value(b) => words.push(show(&b.value.ty, &mut leaves)),
                    }
                }
                // A closed stdout (`gradc run f.gd | head -1`) is not an error of the program.
                let _ = writeln!(out, "{}", words.join(" "));
                Ok(())
            }
            Stmt::Assert { cond, span } => {
                let v = self.eval("assert", &[cond])?;
                if v[0].scalar_value() == Some(1.0) {
                    return Ok(());
                }
                let text = self.checked.sources.snippet(cond.value.span);
                Err(Box::new(
                    Diagnostic::new(codes::ASSERTION_FAILED, format!("assertion failed: `{text}`"), *span, "this condition is false")
                        .with_hint("`print` the values it compares to see why"),
                ))
            }
            Stmt::Save { path, span } => self.save(path, *span),
            Stmt::Load { path, span } => self.load(path, *span),
            Stmt::Bench { call, iters, label, span } => {
                let (graph, draws) = self.graph("bench", &[call])?;
                let exe = self.compile(graph);
                // Fresh directions for every run, the warm-up included (a pool of 64 reused
                // in turn when the count is adaptive), drawn outside the timed region.
                let pool = if draws.is_empty() { 1 } else { iters.map_or(64, |n| n + 1).clamp(1, 4096) };
                let mut args = Vec::with_capacity(pool);
                for _ in 0..pool {
                    args.push(train::draw_all(&draws, &mut self.rng.borrow_mut())?);
                }
                let mut next = args.iter().cycle();
                let stats = bench::measure(*iters, || {
                    let a = next.next().expect("a cycle never ends");
                    exe.run(&Inputs { args: a, params: &self.params, data: &self.data }).map(|_| ())
                })
                .map_err(|(n, e)| eval_error(exe.graph(), n, e, *span))?;
                let _ = writeln!(out, "{}", bench::report(label, &stats));
                Ok(())
            }
            Stmt::Train(_) => unreachable!("`run` runs `train` blocks itself"),
        }
    }

    /// Lowers and simplifies the expressions of a statement into one graph, with the random
    /// draws (of stochastic operators) that are its arguments.
    fn graph(&self, name: &str, bodies: &[&Body]) -> RunResult<(Graph, Vec<lower::Draw>)> {
        let (graph, draws) = lower::lower_bodies_with_draws(&self.checked.program, name, bodies)?;
        Ok((simplify(&graph), draws))
    }

    /// The leaves of the values of `bodies`, in order.
    fn eval(&self, name: &str, bodies: &[&Body]) -> RunResult<Vec<Tensor>> {
        let (graph, draws) = self.graph(name, bodies)?;
        let exe = self.compile(graph);
        let fallback = bodies.first().map(|b| b.value.span).unwrap_or_default();
        let args = train::draw_all(&draws, &mut self.rng.borrow_mut())?;
        self.eval_graph(&exe, &args, fallback)
    }

    /// `save "f.safetensors";`: every param under its name, written atomically.
    fn save(&self, path: &Path, span: Span) -> RunResult<()> {
        let named: Vec<(&str, &Tensor)> = self.checked.program.params.iter().map(|p| p.name.as_str()).zip(&self.params).collect();
        safetensors_io::save(path, &named, None).map_err(|e| {
            Box::new(Diagnostic::new(codes::SAVE_FAILED, e.to_string(), span, "this `save`")
                .with_hint("output paths are relative to the working directory"))
        })
    }

    /// `load "f.safetensors";`: every param from the file, by name, dtype and shape; the
    /// params change only if all of them match.
    fn load(&mut self, path: &Path, span: Span) -> RunResult<()> {
        let fail = |msg: String| Box::new(Diagnostic::new(codes::LOAD_FAILED, msg, span, "this `load`"));
        let tensors = safetensors_io::load(path).map_err(|e| fail(e.to_string()))?;
        let mut loaded = self.params.clone();
        for (k, p) in self.checked.program.params.iter().enumerate() {
            let Some((_, t)) = tensors.iter().find(|(n, _)| *n == p.name) else {
                return Err(fail(format!("`{}` has no tensor named `{}`", path.display(), p.name)));
            };
            let want = &self.params[k];
            if t.dtype() != want.dtype() || t.shape() != want.shape() {
                return Err(fail(format!(
                    "`{}` in `{}` is {}{:?}, but the param is {}{:?}",
                    p.name,
                    path.display(),
                    t.dtype(),
                    t.shape(),
                    want.dtype(),
                    want.shape()
                )));
            }
            loaded[k] = t.clone();
        }
        self.params = loaded;
        Ok(())
    }
}

/// The text of a value of type `ty` whose leaves come next from `leaves`.
fn show<'t>(ty: &Ty, leaves: &mut impl Iterator<Item = &'t Tensor>) -> String {
    match ty {
        Ty::Tensor(_) => leaves.next().map(format::tensor).unwrap_or_default(),
        Ty::Tuple(ts) => {
            let parts: Vec<String> = ts.iter().map(|t| show(t, leaves)).collect();
            if parts.len() == 1 {
                format!("({},)", parts[0])
            } else {
                format!("({})", parts.join(", "))
            }
        }
    }
}

/// A run-time failure of a node, reported at the source it was lowered from.
pub(crate) fn eval_error(graph: &Graph, node: NodeId, e: EvalError, fallback: Span) -> Box<Diagnostic> {
    let span = graph.node(node).span.unwrap_or(fallback);
    let d = match &e {
        EvalError::IndexOutOfRange { len, .. } => Diagnostic::new(codes::INDEX_OUT_OF_RANGE, e.to_string(), span, "this index")
            .with_hint(format!("valid indices are 0..{len}")),
        EvalError::EmptyArgMax => Diagnostic::new(codes::INDEX_OUT_OF_RANGE, e.to_string(), span, "here"),
        EvalError::DivisionByZero => Diagnostic::new(codes::DIVISION_BY_ZERO, e.to_string(), span, "this division")
            .with_hint("integer division by zero has no value; guard it with `if`, or divide floats"),
        EvalError::Alloc(_) => Diagnostic::new(codes::OUT_OF_MEMORY, e.to_string(), span, "this value"),
        _ => Diagnostic::new(codes::INTERNAL, format!("internal error while running: {e}"), span, "here")
            .with_hint("this is a bug in gradc; please report it with this program"),
    };
    Box::new(d)
}

pub use hir::Program;
