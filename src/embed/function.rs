//! [`Function`]: a function of the program at concrete argument types, and the derivative
//! operators applied to it from Rust. Each is checked as a synthesized item against the
//! program, so its type and its errors are the checker's.

use std::fmt;
use std::sync::Arc;

use gradc_compiler::check::hir::FnId;
use gradc_compiler::check::types::Ty;
use gradc_compiler::check::Checked;
use gradc_compiler::diag::codes;
use gradc_compiler::syntax::{ast, parser};

use super::{Error, ErrorKind, Kernel, Program, Result};

/// The name of the synthesized item that calls a function at its argument types.
const WRAPPER: &str = "__gradc_embed";

/// A function's argument types and result type, as the checker gave them.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// The argument types, in order.
    pub args: Vec<Ty>,
    /// The result type (a tuple for `value_and_grad` and the like).
    pub ret: Ty,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(Ty::to_string).collect();
        write!(f, "({}) -> {}", args.join(", "), self.ret)
    }
}

/// A function of a [`Program`] at concrete argument types: one the program declares, or one
/// derived from it (`f.grad()`), ready to [`compile`](Function::compile).
///
/// `Function` is `Send` and `Sync`, and cheap to clone.
#[derive(Clone)]
pub struct Function {
    pub(super) program: Program,
    /// The gd expression it stands for: `f`, `grad(f, wrt = 1)`, …
    expr: String,
    sig: Signature,
    /// The program checked with the synthesized item, and that item's instance.
    pub(super) checked: Arc<Checked>,
    pub(super) id: FnId,
}

/// A derivative operator with its options, and the argument types it calls its function with
/// (LANGUAGE.md §7).
enum Op {
    Grad(usize),
    ValueAndGrad(usize),
    Jacobian(usize),
    Hessian(usize),
    Hvp(usize),
    Jvp,
    Vjp,
    Taylor(usize),
    Diff(usize),
    Laplacian,
    LaplacianEstimate(usize),
    Vmap { axis: usize, size: usize },
}

impl Function {
    /// Checks `fn __gradc_embed(a0: T0, …) { expr(a0, …) }` against the program.
    pub(super) fn typed(program: Program, expr: String, args: Vec<Ty>) -> Result<Function> {
        let params: Vec<String> = args.iter().enumerate().map(|(k, t)| format!("a{k}: {t}")).collect();
        let call: Vec<String> = (0..args.len()).map(|k| format!("a{k}")).collect();
        let item = format!("fn {WRAPPER}({}) {{ {expr}({}) }}\n", params.join(", "), call.join(", "));
        let checked = program.shared.check_with(&item);
        if !checked.is_ok() {
            return Err(Error::from_diags(ErrorKind::Check, checked.diags, &checked.sources));
        }
        let Some(k) = checked.program.fns.iter().position(|f| f.name == WRAPPER) else {
            return Err(Error::plain(ErrorKind::Check, Some(codes::INTERNAL), format!("internal error: `{expr}` was checked but has no instance")));
        };
        let ret = checked.program.fns[k].ret.clone();
        Ok(Function { program, expr, sig: Signature { args, ret }, checked: Arc::new(checked), id: FnId(k as u32) })
    }

    /// The gd expression this function stands for (`grad(f, wrt = 1)`).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Its argument and result types.
    pub fn signature(&self) -> &Signature {
        &self.sig
    }

    /// The program it belongs to.
    pub fn program(&self) -> &Program {
        &self.program
    }

    fn derive(&self, op: Op) -> Result<Function> {
        let a = &self.sig.args;
        let e = &self.expr;
        let (expr, args) = match op {
            Op::Grad(k) => (format!("grad({e}, wrt = {k})"), a.clone()),
            Op::ValueAndGrad(k) => (format!("value_and_grad({e}, wrt = {k})"), a.clone()),
            Op::Jacobian(k) => (format!("jacobian({e}, wrt = {k})"), a.clone()),
            Op::Hessian(k) => (format!("hessian({e}, wrt = {k})"), a.clone()),
            Op::Hvp(k) => (format!("hvp({e}, wrt = {k})"), [a.clone(), a.clone()].concat()),
            Op::Jvp => (format!("jvp({e})"), [a.clone(), a.clone()].concat()),
            Op::Vjp => (format!("vjp({e})"), [a.clone(), vec![self.sig.ret.clone()]].concat()),
            // The point, then a direction of its shape; the checker says if `f` takes more.
            Op::Taylor(order) => (format!("taylor({e}, order = {order})"), a.iter().take(1).chain(a.iter().take(1)).cloned().collect()),
            Op::Diff(n) => (format!("diff({e}, {n})"), a.clone()),
            Op::Laplacian => (format!("laplacian({e})"), a.clone()),
            Op::LaplacianEstimate(samples) => (format!("laplacian({e}, samples = {samples})"), a.clone()),
            Op::Vmap { axis, size } => {
                let mut batched = Vec::with_capacity(a.len());
                for t in a {
                    let Ty::Tensor(t) = t else {
                        return Err(Error::usage(codes::BAD_VMAP, format!("`vmap({e})`: a tuple argument cannot be batched; give the types with `Program::function_at`")));
                    };
                    if axis > t.shape.len() {
                        return Err(Error::usage(codes::BAD_VMAP, format!("`vmap({e}, axis = {axis})`: an argument of type `{t}` has no axis {axis} once batched")));
                    }
                    let mut t = t.clone();
                    t.shape.insert(axis, size);
                    batched.push(Ty::Tensor(t));
                }
                (format!("vmap({e}, axis = {axis})"), batched)
            }
        };
        Function::typed(self.program.clone(), expr, args)
    }

    /// `grad(f)`: the gradient of a scalar function with respect to its first argument.
    pub fn grad(&self) -> Result<Function> {
        self.derive(Op::Grad(0))
    }

    /// `grad(f, wrt = k)`.
    pub fn grad_wrt(&self, k: usize) -> Result<Function> {
        self.derive(Op::Grad(k))
    }

    /// `value_and_grad(f)`: `(f(x…), ∇f(x…))`, with respect to the first argument.
    pub fn value_and_grad(&self) -> Result<Function> {
        self.derive(Op::ValueAndGrad(0))
    }

    /// `value_and_grad(f, wrt = k)`.
    pub fn value_and_grad_wrt(&self, k: usize) -> Result<Function> {
        self.derive(Op::ValueAndGrad(k))
    }

    /// `jacobian(f)`: shape `out ++ in`, with respect to the first argument.
    pub fn jacobian(&self) -> Result<Function> {
        self.derive(Op::Jacobian(0))
    }

    /// `jacobian(f, wrt = k)`.
    pub fn jacobian_wrt(&self, k: usize) -> Result<Function> {
        self.derive(Op::Jacobian(k))
    }

    /// `hessian(f)`, with respect to the first argument.
    pub fn hessian(&self) -> Result<Function> {
        self.derive(Op::Hessian(0))
    }

    /// `hvp(f)(x…, v…)`: Hessian-vector products; takes the points, then as many directions.
    pub fn hvp(&self) -> Result<Function> {
        self.derive(Op::Hvp(0))
    }

    /// `jvp(f)(x…, v…)`: the directional derivative; takes the points, then the tangents.
    pub fn jvp(&self) -> Result<Function> {
        self.derive(Op::Jvp)
    }

    /// `vjp(f)(x…, u)`: the cotangents of the arguments; takes the points, then one
    /// cotangent of the result's type.
    pub fn vjp(&self) -> Result<Function> {
        self.derive(Op::Vjp)
    }

    /// `taylor(f, order = K)(x, v)`: the `K + 1` Taylor coefficients of `t ↦ f(x + t v)` at 0.
    pub fn taylor(&self, order: usize) -> Result<Function> {
        self.derive(Op::Taylor(order))
    }

    /// `diff(f, n)`: the `n`-th derivative of a scalar function of a scalar.
    pub fn diff(&self, n: usize) -> Result<Function> {
        self.derive(Op::Diff(n))
    }

    /// `laplacian(f)`: the exact Laplacian of a scalar function.
    pub fn laplacian(&self) -> Result<Function> {
        self.derive(Op::Laplacian)
    }

    /// `laplacian(f, samples = S)`: the unbiased stochastic estimate of the Laplacian from `S`
    /// random Rademacher directions. Its kernel draws fresh directions at every call (see
    /// [`Kernel`](super::Kernel)).
    pub fn laplacian_estimate(&self, samples: usize) -> Result<Function> {
        self.derive(Op::LaplacianEstimate(samples))
    }

    /// `vmap(f)` over a batch of `size` along a new first axis of every argument.
    pub fn vmap(&self, size: usize) -> Result<Function> {
        self.derive(Op::Vmap { axis: 0, size })
    }

    /// `vmap(f, axis = k)` over a batch of `size` inserted at `axis` of every argument.
    pub fn vmap_axis(&self, axis: usize, size: usize) -> Result<Function> {
        self.derive(Op::Vmap { axis, size })
    }

    /// Compiles with the program's backend ([`super::Options::backend`]).
    pub fn compile(&self) -> Result<Kernel> {
        Kernel::new(self, self.program.shared.options.backend, false)
    }

    /// Compiles for the given backend.
    pub fn compile_with(&self, backend: crate::run::Backend) -> Result<Kernel> {
        Kernel::new(self, backend, false)
    }

    /// The training kernel of a scalar loss: its value, then its gradient with respect to
    /// every float param it reads ([`Kernel::wrt_params`] names them, in order) — what a
    /// `train` block's optimizer asks for. Arguments are the function's own.
    pub fn value_and_param_grad(&self) -> Result<Kernel> {
        Kernel::new(self, self.program.shared.options.backend, true)
    }
}

/// `program.function(name)`: a monomorphic `fn` at its declared types, or a derived
/// `fn name = …;` translated into the operator calls above.
pub(super) fn lookup(program: &Program, name: &str) -> Result<Function> {
    let base = &program.base.program;
    if let Some(f) = base.fns.iter().find(|f| f.name == name) {
        let args = f.params.iter().map(|p| f.body.locals[p.index()].ty.clone()).collect();
        return Function::typed(program.clone(), name.to_string(), args);
    }
    // The program parses (it was checked), so its items are there to read.
    let (module, _) = parser::parse(gradc_compiler::source::FileId(0), &program.shared.source.text);
    for item in &module.items {
        match &item.kind {
            ast::ItemKind::DerivedFn { name: n, value } if n.name == name => {
                let f = derived(program, value)?;
                // Named as the program names it: the same function, its text shorter.
                return Function::typed(program.clone(), name.to_string(), f.sig.args);
            }
            ast::ItemKind::Fn(decl) if decl.name.name == name => {
                return Err(Error::usage(codes::BAD_ARGUMENTS, format!("`{name}` is generic: give its argument types with `Program::function_at`")));
            }
            _ => {}
        }
    }
    Err(Error::usage(codes::UNKNOWN_NAME, format!("the program has no function `{name}` (functions of `use`d modules: `Program::function_at`)")))
}

/// The function a derived item's right-hand side denotes, built with the operators above.
fn derived(program: &Program, e: &ast::Expr) -> Result<Function> {
    let unsupported = || Error::usage(codes::BAD_ARGUMENTS, "this derived function cannot be typed on its own (a lambda, `vmap`, or options that are not literals): use `Program::function_at` with its argument types");
    match &e.kind {
        ast::ExprKind::Paren(inner) => derived(program, inner),
        ast::ExprKind::Name(p) if p.segments.len() == 1 => lookup(program, &p.segments[0].name),
        ast::ExprKind::Call { callee, args } => {
            let ast::ExprKind::Name(p) = &callee.kind else { return Err(unsupported()) };
            let positional: Vec<&ast::Arg> = args.iter().filter(|a| a.name.is_none()).collect();
            let Some(first) = positional.first() else { return Err(unsupported()) };
            let inner = derived(program, &first.value)?;
            let literal = |e: &ast::Expr| match e.kind {
                ast::ExprKind::Int(n) if n >= 0 => Some(n as usize),
                _ => None,
            };
            let opt = |key: &str, default: usize| -> Result<usize> {
                match args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == key)) {
                    Some(a) => literal(&a.value).ok_or_else(unsupported),
                    None => Ok(default),
                }
            };
            let op = match p.segments[0].name.as_str() {
                "grad" => Op::Grad(opt("wrt", 0)?),
                "value_and_grad" => Op::ValueAndGrad(opt("wrt", 0)?),
                "jacobian" => Op::Jacobian(opt("wrt", 0)?),
                "hessian" => Op::Hessian(opt("wrt", 0)?),
                "hvp" => Op::Hvp(opt("wrt", 0)?),
                "jvp" => Op::Jvp,
                "vjp" => Op::Vjp,
                "taylor" => Op::Taylor(opt("order", usize::MAX).and_then(|o| if o == usize::MAX { Err(unsupported()) } else { Ok(o) })?),
                "diff" => Op::Diff(positional.get(1).and_then(|a| literal(&a.value)).ok_or_else(unsupported)?),
                "laplacian" if !args.iter().any(|a| a.name.is_some()) => Op::Laplacian,
                "laplacian" => Op::LaplacianEstimate(opt("samples", usize::MAX).and_then(|s| if s == usize::MAX { Err(unsupported()) } else { Ok(s) })?),
                _ => return Err(unsupported()),
            };
            inner.derive(op)
        }
        _ => Err(unsupported()),
    }
}
