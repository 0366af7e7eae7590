//! The embedding API: load a gd program, look its functions up, derive new ones with the
//! derivative operators, compile them to native kernels (or the interpreter) and call them
//! with [`Tensor`]s from Rust. The crate root documents it with an example.
//!
//! Everything typed goes through the ordinary checker: a looked-up or derived function is a
//! small synthesized item, `fn __gradc_embed(a0: T0, …) { EXPR(a0, …) }`, checked together with
//! the program (as the REPL checks its lines, `check::check_module_on_this_thread`), so its
//! result type and every error are the checker's own. The argument types of a derived function
//! follow the calling conventions of LANGUAGE.md §7 (`jvp(f)(x…, v…)`, `vjp(f)(x…, u)`, …);
//! the checker then validates them and types the result.
//!
//! Params live in the [`Program`], shared (behind an `RwLock`) with every [`Kernel`] compiled
//! from it: a call reads them in place, without copying, and [`Program::set_param`] is seen
//! by every kernel's next call.

#![warn(missing_docs)]

mod error;
mod function;
mod kernel;

pub use error::{Error, ErrorKind, Result};
pub use function::{Function, Signature};
pub use kernel::Kernel;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use gradc_compiler::check::{self, types::TensorTy, Checked};
use gradc_compiler::diag::codes;
use gradc_compiler::source::SourceMap;
use gradc_compiler::syntax::parser;
use gradc_runtime::tensor::Tensor;

use crate::run::Backend;

/// How a [`Program`] is loaded and run. `Options::default()` is what `gradc run` does:
/// seed 0, native code, every core.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The seed of random param initialisers (`gradc run --seed`).
    pub seed: u64,
    /// Native code (the Cranelift JIT) or the reference interpreter.
    pub backend: Backend,
    /// Threads for large loops; `None`: all cores.
    pub threads: Option<usize>,
}

impl Options {
    /// Sets [`Options::seed`].
    pub fn seed(mut self, seed: u64) -> Options {
        self.seed = seed;
        self
    }

    /// Sets [`Options::backend`].
    pub fn backend(mut self, backend: Backend) -> Options {
        self.backend = backend;
        self
    }

    /// Sets [`Options::threads`].
    pub fn threads(mut self, threads: usize) -> Options {
        self.threads = Some(threads);
        self
    }
}

/// The program's text, kept to check synthesized items against it.
struct Source {
    name: String,
    text: String,
    /// Where relative paths (`use "f.gd"`, `csv("…")`) start.
    dir: PathBuf,
}

/// What a program's functions and kernels share.
pub(crate) struct Shared {
    source: Source,
    options: Options,
    /// The params' names and types, in declaration order (the order of `params`).
    param_decls: Vec<(String, TensorTy)>,
    params: RwLock<Vec<Tensor>>,
    data: Vec<Tensor>,
}

/// A checked gd program with its params and data: the starting point of the embedding API.
/// Loading checks it as `gradc check` does, initialises its params from the seed as
/// `gradc run` does, and loads its data sets (paths relative to the file).
///
/// Its statements (`print`, `train`, …) are checked but not run: the embedding program
/// decides what runs. `Program` is `Send` and `Sync`; cloning it is cheap and shares the
/// params.
#[derive(Clone)]
pub struct Program {
    shared: Arc<Shared>,
    /// The program as checked on its own: its function instances, for lookups.
    base: Arc<Checked>,
}

impl Program {
    /// Loads a program from text with the default [`Options`]; relative paths start at the
    /// current directory.
    pub fn from_source(text: &str) -> Result<Program> {
        Program::from_source_with(text, &Options::default())
    }

    /// [`Program::from_source`] with options.
    pub fn from_source_with(text: &str, options: &Options) -> Result<Program> {
        let source = Source { name: "<source>".into(), text: text.to_string(), dir: PathBuf::new() };
        let checked = check::check_source(&source.name, text, source.dir.clone());
        Program::new(source, checked, options)
    }

    /// Loads a program from a file with the default [`Options`]; relative paths start at the
    /// file's directory, as for `gradc run`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Program> {
        Program::from_file_with(path, &Options::default())
    }

    /// [`Program::from_file`] with options.
    pub fn from_file_with(path: impl AsRef<Path>, options: &Options) -> Result<Program> {
        let path = path.as_ref();
        let unreadable = |e: std::io::Error| Error::plain(ErrorKind::Io, None, format!("cannot read `{}`: {e}", path.display()));
        // Checked from its bytes, so that a file that is not UTF-8 gets the CLI's E007.
        let checked = check::check_file(path).map_err(unreadable)?;
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Program::new(Source { name: path.display().to_string(), text, dir }, checked, options)
    }

    /// Params initialised from the seed, as `gradc run` does (one generator, declaration
    /// order); data sets loaded.
    fn new(source: Source, checked: Checked, options: &Options) -> Result<Program> {
        if !checked.is_ok() {
            return Err(Error::from_diags(ErrorKind::Check, checked.diags, &checked.sources));
        }
        let program = &checked.program;
        let fail = |d: Box<gradc_compiler::diag::Diagnostic>| Error::from_diags(ErrorKind::Run, vec![*d], &checked.sources);
        let mut rng = gradc_runtime::rng::Rng::seed_from_u64(options.seed);
        let params = program.params.iter().map(|p| crate::run::init::param(p, &mut rng)).collect::<crate::run::RunResult<Vec<_>>>().map_err(fail)?;
        let data = program.data.iter().map(crate::run::init::data).collect::<crate::run::RunResult<Vec<_>>>().map_err(fail)?;
        let param_decls = program.params.iter().map(|p| (p.name.clone(), p.ty.clone())).collect();
        let shared = Shared { source, options: options.clone(), param_decls, params: RwLock::new(params), data };
        Ok(Program { shared: Arc::new(shared), base: Arc::new(checked) })
    }

    /// The function `name`: a `fn` with nothing generic, or a derived one (`fn df = grad(f);`).
    /// A generic function (or a derived one over `vmap`) needs its argument types:
    /// [`Program::function_at`].
    pub fn function(&self, name: &str) -> Result<Function> {
        function::lookup(self, name)
    }

    /// Any function expression of the program at the given argument types: an instance of a
    /// generic function (`function_at("model", &[tensor(Elem::F64, &[32])])`), or an operator
    /// applied to one (`"vmap(grad(f))"`). The checker instantiates and types it.
    pub fn function_at(&self, expr: &str, args: &[check::types::Ty]) -> Result<Function> {
        Function::typed(self.clone(), expr.to_string(), args.to_vec())
    }

    /// The names and types of the params, in declaration order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &TensorTy)> {
        self.shared.param_decls.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// The current value of param `name` (a copy).
    pub fn param(&self, name: &str) -> Result<Tensor> {
        let k = self.param_index(name)?;
        Ok(self.shared.read_params()[k].clone())
    }

    /// Sets param `name`; the value must have the param's dtype and shape. Every kernel of the
    /// program sees it from its next call.
    pub fn set_param(&self, name: &str, value: Tensor) -> Result<()> {
        let k = self.param_index(name)?;
        let ty = &self.shared.param_decls[k].1;
        kernel::check_tensor(&format!("param `{name}`"), &gradc_compiler::lower::ir_type(&check::types::Ty::Tensor(ty.clone())), &value)?;
        let mut params = self.shared.params.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        params[k] = value;
        Ok(())
    }

    fn param_index(&self, name: &str) -> Result<usize> {
        self.shared.param_decls.iter().position(|(n, _)| n == name).ok_or_else(|| {
            let names: Vec<&str> = self.shared.param_decls.iter().map(|(n, _)| n.as_str()).collect();
            Error::usage(codes::UNKNOWN_NAME, format!("the program has no param `{name}` (its params: {})", if names.is_empty() { "none".into() } else { names.join(", ") }))
        })
    }

    /// The data set `name`, as loaded (a copy).
    pub fn data(&self, name: &str) -> Result<Tensor> {
        let base = &self.base.program;
        match base.data.iter().position(|d| d.name == name) {
            Some(k) => Ok(self.shared.data[k].clone()),
            None => Err(Error::usage(codes::UNKNOWN_NAME, format!("the program has no data set `{name}`"))),
        }
    }

    /// The options the program was loaded with.
    pub fn options(&self) -> &Options {
        &self.shared.options
    }
}

impl Shared {
    /// The params, read in place. A writer that panicked left whole tensors (a replace is one
    /// assignment), so a poisoned lock is still consistent.
    fn read_params(&self) -> std::sync::RwLockReadGuard<'_, Vec<Tensor>> {
        self.params.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks the program with `extra` (synthesized items) appended as a file of its own.
    /// Runs the front end on a thread with its large stack, as `check::check_file` does.
    fn check_with(&self, extra: &str) -> Checked {
        let src = &self.source;
        let run = || {
            let mut sources = SourceMap::new();
            let root = sources.add(src.name.clone(), None, src.text.clone());
            let (mut module, mut diags) = parser::parse(root, &sources.get(root).text);
            let made = sources.add("<gradc::embed>", None, extra.to_string());
            let (more, more_diags) = parser::parse(made, &sources.get(made).text);
            module.items.extend(more.items);
            diags.extend(more_diags);
            if !diags.is_empty() {
                return Checked { sources, program: Default::default(), diags };
            }
            check::check_module_on_this_thread(sources, module, src.dir.clone(), HashMap::new())
        };
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("gradc-check".into())
                .stack_size(check::FRONT_END_STACK)
                .spawn_scoped(s, run)
                .map(|h| h.join())
        })
        .unwrap_or_else(|e| panic!("cannot start the checker's thread: {e}"))
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

/// A tensor type, for [`Program::function_at`]: `tensor(Elem::F64, &[3])` is `f64[3]`.
pub fn tensor(elem: check::types::Elem, shape: &[usize]) -> check::types::Ty {
    check::types::Ty::Tensor(TensorTy { elem, shape: shape.to_vec() })
}
