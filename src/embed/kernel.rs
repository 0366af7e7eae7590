//! [`Kernel`]: a [`Function`] lowered, simplified and compiled once, then called any number
//! of times with tensors. Arguments are checked against the signature before anything runs;
//! params are read in place from the program (no copy per call).

use std::sync::{Arc, Mutex};

use gradc_compiler::check::types::{Elem, Ty};
use gradc_compiler::check::Checked;
use gradc_compiler::diag::codes;
use gradc_compiler::interp::Inputs;
use gradc_compiler::ir::{Source, Type};
use gradc_compiler::lower::{self, Draw};
use gradc_compiler::passes::simplify::simplify;
use gradc_compiler::source::Span;
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::Tensor;

use super::{Error, ErrorKind, Function, Result, Shared, Signature};
use crate::run::{Backend, Executable};

/// A compiled function: native code from the Cranelift JIT, or a graph for the interpreter.
///
/// Calls take `&self` and read the program's params in place. A kernel of a stochastic
/// operator (`laplacian(f, samples = S)`) draws fresh random directions at every call from a
/// generator of its own, seeded by the program's seed (so a new kernel repeats the sequence). `Kernel` is `Send` and `Sync`:
/// the JIT's module (`Send`, not `Sync`) is only owned by the compiled code, never used after
/// compiling, so calls from several threads at once are safe; they share the process's
/// thread pool for large loops. Dropping a kernel frees its machine code.
pub struct Kernel {
    shared: Arc<Shared>,
    exe: Executable,
    sig: Signature,
    /// The leaves of the arguments, as the graph takes them (a tuple argument is its leaves).
    arg_leaves: Vec<Type>,
    /// The params a `value_and_param_grad` kernel differentiates, in output order.
    wrt_params: Vec<String>,
    /// Random inputs (the directions of `laplacian(f, samples = S)`), drawn at every call
    /// from `rng`: the kernel's own generator, seeded by the program's seed.
    draws: Vec<Draw>,
    rng: Mutex<Rng>,
    /// For rendering run-time errors against the sources.
    checked: Arc<Checked>,
}

impl Kernel {
    pub(super) fn new(f: &Function, backend: Backend, param_grad: bool) -> Result<Kernel> {
        let checked = f.checked.clone();
        let program = &checked.program;
        let fail = |d: Box<gradc_compiler::diag::Diagnostic>| Error::from_diags(ErrorKind::Check, vec![*d], &checked.sources);
        let mut sig = f.signature().clone();
        let mut wrt_params = Vec::new();
        let graph = if param_grad {
            let (fg, _) = lower::fn_graph(program, f.id).map_err(fail)?;
            if !matches!(&sig.ret, Ty::Tensor(t) if t.shape.is_empty() && t.elem.is_float()) {
                return Err(Error::usage(codes::GRAD_NOT_SCALAR, format!("`value_and_param_grad` needs a scalar float result, but `{}` gives `{}`", f.expr(), sig.ret)));
            }
            let read: Vec<Source> = simplify(&fg.graph).inputs().map(|(_, s)| s).collect();
            let mut wrt = Vec::new();
            let mut grads = Vec::new();
            for (k, p) in program.params.iter().enumerate() {
                if p.ty.elem.is_float() && read.contains(&Source::Param(k as u32)) {
                    let ty = Ty::Tensor(p.ty.clone());
                    wrt.push((Source::Param(k as u32), lower::ir_type(&ty)));
                    wrt_params.push(p.name.clone());
                    grads.push(ty);
                }
            }
            sig.ret = Ty::Tuple(vec![sig.ret.clone(), Ty::Tuple(grads)]);
            simplify(&lower::value_and_param_grad(&fg, &wrt, program.fns[f.id.index()].span).map_err(fail)?)
        } else {
            simplify(&lower::lower_fn(program, f.id).map_err(fail)?)
        };
        let mut arg_leaves = Vec::new();
        for t in &sig.args {
            let mut tys = Vec::new();
            lower::leaf_types(t, &mut tys);
            arg_leaves.extend(tys);
        }
        // The random directions of stochastic operators become extra arguments that every
        // call draws afresh, as `gradc run` does for each evaluation.
        let (graph, draws) = lower::draws_as_args(&graph, arg_leaves.len() as u32);
        let rng = Mutex::new(Rng::seed_from_u64(f.program.shared.options.seed));
        let exe = Executable::new(graph, backend, f.program.shared.options.threads);
        Ok(Kernel { shared: f.program.shared.clone(), exe, sig, arg_leaves, wrt_params, draws, rng, checked })
    }

    /// Runs the kernel. `args` are the leaves of the arguments in order (a tuple argument
    /// gives one tensor per leaf); the result is the leaves of the result, in order (one
    /// tensor for a tensor result).
    pub fn call(&self, args: &[Tensor]) -> Result<Vec<Tensor>> {
        if args.len() != self.arg_leaves.len() {
            return Err(Error::usage(
                codes::BAD_ARGUMENTS,
                format!("the kernel `{}` takes {} argument tensor{}, given {}", self.sig, self.arg_leaves.len(), if self.arg_leaves.len() == 1 { "" } else { "s" }, args.len()),
            ));
        }
        for (k, (want, got)) in self.arg_leaves.iter().zip(args).enumerate() {
            check_tensor(&format!("argument {k}"), want, got)?;
        }
        let drawn;
        let args = if self.draws.is_empty() {
            args
        } else {
            let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let fresh = crate::run::draw_all(&self.draws, &mut rng).map_err(|d| Error::from_diags(ErrorKind::Run, vec![*d], &self.checked.sources))?;
            drawn = [args, &fresh].concat();
            &drawn[..]
        };
        let params = self.shared.read_params();
        let inputs = Inputs { args, params: &params, data: &self.shared.data };
        self.exe.run(&inputs).map_err(|(node, e)| {
            let d = crate::run::eval_error(self.exe.graph(), node, e, Span::default());
            Error::from_diags(ErrorKind::Run, vec![*d], &self.checked.sources)
        })
    }

    /// [`call`](Kernel::call) for a kernel with one scalar float result: that value.
    pub fn call_scalar(&self, args: &[Tensor]) -> Result<f64> {
        let out = self.call(args)?;
        match &out[..] {
            [t] if t.shape().is_empty() && t.dtype().is_float() => Ok(t.to_f64_vec()[0]),
            _ => Err(Error::usage(codes::TYPE_MISMATCH, format!("`call_scalar` needs a scalar float result, but the kernel gives `{}`", self.sig.ret))),
        }
    }

    /// Its argument and result types (for [`Function::value_and_param_grad`]: the loss's
    /// type, then a tuple of the params' types).
    pub fn signature(&self) -> &Signature {
        &self.sig
    }

    /// The backend it runs on: the one asked for, except that a graph the JIT cannot
    /// compile (a bug in the backend) runs on the interpreter, with a warning on stderr, as
    /// under `gradc run`.
    pub fn backend(&self) -> Backend {
        match self.exe {
            Executable::Native(_) => Backend::Jit,
            Executable::Interpreted(_) => Backend::Interp,
        }
    }

    /// For a [`Function::value_and_param_grad`] kernel: the params its gradients are taken
    /// with respect to, in output order; empty otherwise.
    pub fn wrt_params(&self) -> &[String] {
        &self.wrt_params
    }
}

/// Whether `got` is a tensor of type `want`, as a usage error naming `what` if not.
pub(super) fn check_tensor(what: &str, want: &Type, got: &Tensor) -> Result<()> {
    if got.dtype() == want.dtype && got.shape() == want.shape.as_slice() {
        return Ok(());
    }
    let show = |dtype: gradc_runtime::tensor::DType, shape: &[usize]| {
        let elem = match dtype {
            gradc_runtime::tensor::DType::F64 => Elem::F64,
            gradc_runtime::tensor::DType::F32 => Elem::F32,
            gradc_runtime::tensor::DType::I64 => Elem::I64,
            gradc_runtime::tensor::DType::Bool => Elem::Bool,
        };
        gradc_compiler::check::types::TensorTy { elem, shape: shape.to_vec() }.to_string()
    };
    Err(Error::usage(codes::TYPE_MISMATCH, format!("{what} must be `{}`, given `{}`", show(want.dtype, &want.shape), show(got.dtype(), got.shape()))))
}
