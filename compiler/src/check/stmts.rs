//! The program's statements: `print`, `assert`, `save`, `load`, `bench` and `train`
//! with its options.

use std::path::PathBuf;

use super::expr::{const_eval, default_weak};
use super::hir::{self, Body, ExprKind, Length, Optimizer, Schedule, TrainOptions};
use super::scope::BodyCtx;
use super::types::{Elem, Ty};
use super::{Checker, FileIdx};
use crate::diag::{codes, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind as E};

/// The optimizers and their options come from the runtime's table (`optim::option_names`),
/// so the checker accepts exactly what the optimizer loop runs (`rda`, reverse derivative
/// ascent over `bool` params, included).
fn optimizer_names() -> Vec<&'static str> {
    gradc_runtime::optim::optimizer_names()
}

/// `(takes lr, needs lr, other options with `clip` where it is one)` of an optimizer, or
/// `None` if there is no such one.
fn optimizer_options(name: &str) -> Option<(bool, bool, Vec<&'static str>)> {
    let all = gradc_runtime::optim::option_names(name)?;
    let required = gradc_runtime::optim::requires_lr(name).unwrap_or(false);
    Some((all.contains(&"lr"), required, all.into_iter().filter(|o| *o != "lr").collect()))
}

impl Checker<'_> {
    pub(super) fn check_statement(&mut self, file: FileIdx, item: &ast::Item) {
        let span = item.span;
        let stmt = match &item.kind {
            ast::ItemKind::Print(items) => {
                let mut out = Vec::new();
                for e in items {
                    match &e.kind {
                        E::Str(s) => out.push(hir::PrintItem::Text(s.clone())),
                        _ => match self.value_body(file, e, false) {
                            Some(b) => out.push(hir::PrintItem::Value(b)),
                            None => return,
                        },
                    }
                }
                hir::Stmt::Print { items: out, span }
            }
            ast::ItemKind::Assert(e) => {
                let Some(b) = self.value_body(file, e, false) else { return };
                if b.value.ty != Ty::scalar(Elem::Bool) {
                    self.error(
                        Diagnostic::new(codes::NOT_BOOL, format!("`assert` needs a scalar `bool`, found `{}`", b.value.ty), e.span, "not a scalar `bool`")
                            .with_hint(if matches!(&b.value.ty, Ty::Tensor(t) if t.elem == Elem::Bool) { "reduce it with `all(…)` or `any(…)`" } else { "compare it, e.g. `abs(w - 3) < 0.05`" }),
                    );
                    return;
                }
                hir::Stmt::Assert { cond: b, span }
            }
            ast::ItemKind::Save(path, _) => hir::Stmt::Save { path: PathBuf::from(path), span },
            ast::ItemKind::Load(path, _) => hir::Stmt::Load { path: PathBuf::from(path), span },
            ast::ItemKind::Bench { expr, options } => {
                if !matches!(expr.kind, E::Call { .. }) {
                    self.error(Diagnostic::new(codes::BAD_STATEMENT, "`bench` times a call", expr.span, "not a call").with_hint("e.g. `bench value_and_grad(f)(x);`"));
                    return;
                }
                let Some(call) = self.value_body(file, expr, false) else { return };
                let mut iters = None;
                for o in options {
                    match o.name.name.as_str() {
                        "iters" => match self.option_count(file, &o.value, "`iters`") {
                            Some(n) => iters = Some(n),
                            None => return,
                        },
                        _ => {
                            self.error(Diagnostic::new(codes::BAD_OPTION, format!("`bench` has no option `{}`", o.name.name), o.name.span, "unknown option").with_hint("`bench` takes `iters`"));
                            return;
                        }
                    }
                }
                let label = self.sources.snippet(expr.span).to_string();
                hir::Stmt::Bench { call, iters, label, span }
            }
            ast::ItemKind::Train { call, options } => match self.train(file, call, options, span) {
                Some(t) => hir::Stmt::Train(Box::new(t)),
                None => return,
            },
            _ => return,
        };
        self.program.stmts.push(stmt);
    }

    /// Checks a statement's expression with its own locals table.
    fn value_body(&mut self, file: FileIdx, e: &ast::Expr, allow_random: bool) -> Option<Body> {
        let mut body = self.weak_value_body(file, e, allow_random)?;
        default_body(&mut body);
        Some(body)
    }

    /// A statement's expression with its weak types left for a context to decide (the
    /// arguments of `train` take the types the loss's parameters declare).
    fn weak_value_body(&mut self, file: FileIdx, e: &ast::Expr, allow_random: bool) -> Option<Body> {
        let mut cx = BodyCtx::new(file);
        cx.allow_random = allow_random;
        if self.is_fn_expr(&cx, e) {
            self.error(Diagnostic::new(codes::NOT_A_VALUE, "a function is not a value", e.span, "a function").with_hint("call it with arguments"));
            return None;
        }
        let value = self.expr(&mut cx, e)?;
        Some(Body { locals: cx.locals, value })
    }

    fn option_count(&mut self, file: FileIdx, e: &ast::Expr, what: &str) -> Option<usize> {
        let mut cx = BodyCtx::new(file);
        let v = self.const_int(&mut cx, e, what)?;
        if v < 1 {
            self.error(Diagnostic::new(codes::BAD_OPTION, format!("{what} must be at least 1, found {v}"), e.span, "too small"));
            return None;
        }
        Some(v as usize)
    }

    fn option_string(&mut self, e: &ast::Expr, what: &str) -> Option<PathBuf> {
        match &e.kind {
            E::Str(s) => Some(PathBuf::from(s)),
            _ => {
                self.error(Diagnostic::new(codes::BAD_OPTION, format!("`{what}` is a path string"), e.span, "not a string").with_hint(format!("e.g. `{what} = \"out.file\"`")));
                None
            }
        }
    }

    fn train(&mut self, file: FileIdx, call: &ast::Expr, options: &[ast::OptionItem], span: Span) -> Option<hir::Train> {
        let E::Call { callee, args } = &call.kind else {
            self.error(Diagnostic::new(codes::BAD_STATEMENT, "`train` needs a call of the loss: `train loss(x, y) { … }`", call.span, "not a call"));
            return None;
        };
        // The loss's own context: a lambda loss binds its locals here. Random draws belong in
        // the arguments (checked in contexts of their own), as in a named loss's body.
        let mut cx = BodyCtx::new(file);
        let f = self.fn_value(&mut cx, callee)?;
        // Arguments are checked whole; those computed from `data` are then batched.
        let mut bodies = Vec::new();
        for a in args {
            if let Some(n) = &a.name {
                self.error(Diagnostic::new(codes::BAD_ARGUMENTS, "the loss of `train` takes positional arguments", n.span, "named argument"));
                return None;
            }
            bodies.push(self.weak_value_body(file, &a.value, true)?);
        }
        let mut rows: Option<(usize, Span)> = None;
        let mut batched = Vec::new();
        for (b, a) in bodies.iter().zip(args) {
            let is_batched = mentions_data(&b.value);
            if is_batched {
                let Some(t) = b.value.ty.as_tensor().filter(|t| !t.is_scalar()) else {
                    self.error(Diagnostic::new(codes::BAD_OPTION, format!("a loss argument computed from data is batched along its first axis, but this one is `{}`", b.value.ty), a.value.span, "no first axis"));
                    return None;
                };
                match rows {
                    Some((r, s)) if r != t.shape[0] => {
                        self.error(
                            Diagnostic::new(codes::SHAPE_MISMATCH, format!("batched loss arguments need the same number of rows: {r} and {}", t.shape[0]), a.value.span, format!("{} rows", t.shape[0]))
                                .with_label(s, format!("{r} rows")),
                        );
                        return None;
                    }
                    _ => rows = Some((t.shape[0], a.value.span)),
                }
            }
            batched.push(is_batched);
        }
        let options_checked = self.train_options(file, options, rows, span)?;
        let batch = options_checked.batch.or(rows.map(|r| r.0));
        // Instantiate the loss at the batched argument types.
        let infos: Vec<super::calls::ArgInfo> = bodies
            .iter()
            .zip(&batched)
            .map(|(b, &is_b)| {
                let mut ty = b.value.ty.clone();
                if let (true, Ty::Tensor(t), Some(n)) = (is_b, &mut ty, batch) {
                    t.shape[0] = n;
                }
                super::calls::ArgInfo { ty, span: b.value.span, konst: None }
            })
            .collect();
        let (mut loss, mut sig, _) = self.instantiate(&mut cx, &f, &infos, &[], call.span)?;
        super::expr::default_weak_callee(&mut loss);
        sig.ret = sig.ret.defaulted();
        let is_rda = options_checked.optimizer.name == "rda";
        let ok = match sig.ret.as_tensor() {
            Some(t) if t.is_scalar() && t.elem.is_float() => !is_rda,
            Some(t) if t.elem == Elem::Bool => is_rda,
            _ => false,
        };
        if !ok {
            let msg = if is_rda { format!("`rda` trains a `bool` function, but this loss returns `{}`", sig.ret) } else { format!("a loss must return a scalar `f32` or `f64`, this one returns `{}`", sig.ret) };
            self.error(
                Diagnostic::new(codes::TYPE_MISMATCH, msg, call.span, "the loss")
                    .with_hint(if is_rda { "return the error bits, e.g. `xor(circuit(x), y)`" } else { "reduce it, e.g. `mean((model(x) - y) ^ 2)`; for a `bool` circuit use `optimizer = rda()`" }),
            );
            return None;
        }
        for (b, want) in bodies.iter_mut().zip(&sig.params) {
            // A weak argument (`train loss(1)`) takes the element type the loss declares.
            if let (Ty::Tensor(have), Ty::Tensor(want)) = (&b.value.ty, want) {
                if have.elem.is_weak() && have.elem.coerces_to(want.elem) {
                    self.coerce(&mut b.value, want.elem);
                }
            }
            default_body(b);
            if let (Ty::Tensor(have), Ty::Tensor(want)) = (&b.value.ty, want) {
                if have.elem != want.elem {
                    self.error(
                        Diagnostic::new(codes::NO_IMPLICIT_CONVERSION, format!("this argument is `{}` but the loss takes `{}`", have.elem.name(), want.elem.name()), b.value.span, "wrong element type")
                            .with_hint(format!("convert it: `{}(…)`", want.elem.name())),
                    );
                    return None;
                }
            }
        }
        let loss_name = self.sources.snippet(callee.span).to_string();
        let args = bodies.into_iter().zip(batched).map(|(value, batched)| hir::TrainArg { value, batched }).collect();
        let mut loss_locals = cx.locals;
        for l in &mut loss_locals {
            l.ty = l.ty.defaulted();
        }
        Some(hir::Train { loss, loss_locals, loss_sig: sig, loss_name, args, options: options_checked, span })
    }

    fn train_options(&mut self, file: FileIdx, options: &[ast::OptionItem], rows: Option<(usize, Span)>, span: Span) -> Option<TrainOptions> {
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let mut optimizer = None;
        let mut length = None;
        let mut o = TrainOptions {
            optimizer: Optimizer { name: String::new(), lr: None, options: Vec::new() },
            length: Length::Steps(0),
            batch: None,
            seed: None,
            shuffle: true,
            log_every: None,
            checkpoint: None,
            checkpoint_every: None,
            plot: None,
            log: None,
            validate: None,
        };
        let mut ok = true;
        for opt in options {
            let name = opt.name.name.as_str();
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                self.error(Diagnostic::new(codes::BAD_OPTION, format!("the option `{name}` is given twice"), opt.name.span, "again here").with_label(*first, "first here"));
                ok = false;
                continue;
            }
            seen.push((name, opt.name.span));
            let v = &opt.value;
            let r = match name {
                "optimizer" => self.optimizer(file, v).map(|x| optimizer = Some(x)),
                "steps" | "epochs" => {
                    if let Some(other) = seen.iter().find(|(n, _)| *n != name && (*n == "steps" || *n == "epochs")) {
                        self.error(
                            Diagnostic::new(codes::BAD_OPTION, "give either `steps` or `epochs`, not both", opt.name.span, "second one")
                                .with_label(other.1, "first one"),
                        );
                        None
                    } else {
                        self.option_count(file, v, &format!("`{name}`")).map(|n| length = Some(if name == "steps" { Length::Steps(n) } else { Length::Epochs(n) }))
                    }
                }
                "batch" => self.option_count(file, v, "`batch`").and_then(|n| match rows {
                    Some((r, s)) if n > r => {
                        self.error(
                            Diagnostic::new(codes::BAD_OPTION, format!("`batch = {n}` is larger than the data, which has {r} rows"), v.span, "too large")
                                .with_label(s, format!("{r} rows")),
                        );
                        None
                    }
                    _ => {
                        o.batch = Some(n);
                        Some(())
                    }
                }),
                "seed" => {
                    let mut cx = BodyCtx::new(file);
                    self.const_int(&mut cx, v, "`seed`").and_then(|s| if s < 0 {
                        self.error(Diagnostic::new(codes::BAD_OPTION, "`seed` must be ≥ 0", v.span, "negative"));
                        None
                    } else {
                        o.seed = Some(s as u64);
                        Some(())
                    })
                }
                "shuffle" => match v.kind {
                    E::Bool(b) => {
                        o.shuffle = b;
                        Some(())
                    }
                    _ => {
                        self.error(Diagnostic::new(codes::BAD_OPTION, "`shuffle` is `true` or `false`", v.span, "not a bool"));
                        None
                    }
                },
                "log_every" => self.option_count(file, v, "`log_every`").map(|n| o.log_every = Some(n)),
                "checkpoint_every" => self.option_count(file, v, "`checkpoint_every`").map(|n| o.checkpoint_every = Some(n)),
                "checkpoint" => self.option_string(v, "checkpoint").map(|p| o.checkpoint = Some(p)),
                "plot" => self.option_string(v, "plot").map(|p| o.plot = Some(p)),
                "log" => self.option_string(v, "log").map(|p| o.log = Some(p)),
                // A scalar float, or error bits for `rda` (checked once the optimizer is known).
                "validate" => self.value_body(file, v, false).and_then(|b| {
                    if b.value.ty.as_tensor().is_some_and(|t| (t.is_scalar() && t.elem.is_float()) || t.elem == Elem::Bool) {
                        o.validate = Some(b);
                        Some(())
                    } else {
                        self.error(Diagnostic::new(codes::BAD_OPTION, format!("`validate` must be a scalar float, found `{}`", b.value.ty), v.span, "not a scalar float").with_hint("e.g. `validate = loss(xv, yv)`"));
                        None
                    }
                }),
                _ => {
                    let known = ["optimizer", "steps", "epochs", "batch", "seed", "shuffle", "log_every", "checkpoint", "checkpoint_every", "plot", "log", "validate"];
                    let mut d = Diagnostic::new(codes::BAD_OPTION, format!("`train` has no option `{name}`"), opt.name.span, "unknown option");
                    d = d.with_hint(match super::scope::closest(name, known.into_iter()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("the options are {}", known.join(", ")),
                    });
                    self.error(d);
                    None
                }
            };
            ok &= r.is_some();
        }
        if !ok {
            return None;
        }
        let Some(optimizer) = optimizer else {
            self.error(Diagnostic::new(codes::BAD_OPTION, "`train` needs an optimizer", span, "no `optimizer = …`").with_hint("e.g. `optimizer = adam(lr = 1e-3),`"));
            return None;
        };
        let Some(length) = length else {
            self.error(Diagnostic::new(codes::BAD_OPTION, "`train` needs `steps` or `epochs`", span, "how long to train is not given").with_hint("e.g. `steps = 500,`"));
            return None;
        };
        if matches!(length, Length::Epochs(_)) && rows.is_none() {
            self.error(Diagnostic::new(codes::BAD_OPTION, "`epochs` needs a loss argument computed from data", span, "no data to count epochs over").with_hint("use `steps` instead"));
            return None;
        }
        let bits = |b: &Body| b.value.ty.as_tensor().is_some_and(|t| t.elem == Elem::Bool);
        if let Some(b) = o.validate.as_ref().filter(|b| bits(b) != (optimizer.name == "rda")) {
            let bits = bits(b);
            let (msg, hint) = if bits {
                (format!("`validate` must be a scalar float, found `{}`", b.value.ty), "error bits validate `rda` only; e.g. `validate = loss(xv, yv)`")
            } else {
                (format!("`validate` of an `rda` run must be error bits (`bool`), found `{}`", b.value.ty), "validate with the loss on other rows, e.g. `validate = errors(xv)`")
            };
            self.error(Diagnostic::new(codes::BAD_OPTION, msg, b.value.span, "this validation").with_hint(hint));
            return None;
        }
        o.optimizer = optimizer;
        o.length = length;
        Some(o)
    }

    fn optimizer(&mut self, file: FileIdx, v: &ast::Expr) -> Option<Optimizer> {
        let names = optimizer_names();
        let (name, args) = match &v.kind {
            E::Call { callee, args } => match &callee.kind {
                E::Name(p) if p.segments.len() == 1 => (p.segments[0].clone(), args),
                _ => return self.bad_optimizer(v.span, &names),
            },
            _ => return self.bad_optimizer(v.span, &names),
        };
        let Some((has_lr, needs_lr, extra)) = optimizer_options(&name.name) else {
            let mut d = Diagnostic::new(codes::BAD_OPTION, format!("unknown optimizer `{}`", name.name), name.span, "not an optimizer");
            d = d.with_hint(match super::scope::closest(&name.name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the optimizers are {}", names.join(", ")),
            });
            self.error(d);
            return None;
        };
        let mut opt = Optimizer { name: name.name.clone(), lr: None, options: Vec::new() };
        let mut cx = BodyCtx::new(file);
        for (i, a) in args.iter().enumerate() {
            let key = match (&a.name, i) {
                (Some(n), _) => n.name.clone(),
                (None, 0) if has_lr => "lr".to_string(),
                (None, _) => {
                    self.error(Diagnostic::new(codes::BAD_OPTION, format!("the options of `{}` are named (except `lr`, first)", name.name), a.value.span, "positional").with_hint("e.g. `sgd(lr = 0.1, momentum = 0.9)`"));
                    return None;
                }
            };
            if key == "lr" && has_lr {
                opt.lr = Some(self.schedule(&mut cx, &a.value)?);
            } else if extra.contains(&key.as_str()) {
                let x = match &a.value.kind {
                    E::Bool(b) => f64::from(u8::from(*b)),
                    _ => self.const_f64(&mut cx, &a.value)?,
                };
                opt.options.push((key, x));
            } else {
                let mut allowed: Vec<String> = extra.iter().map(|s| format!("`{s}`")).collect();
                if has_lr {
                    allowed.insert(0, "`lr`".into());
                }
                self.error(Diagnostic::new(codes::BAD_OPTION, format!("`{}` has no option `{key}`", name.name), a.name.as_ref().map_or(a.value.span, |n| n.span), "unknown option").with_hint(format!("its options are {}", allowed.join(", "))));
                return None;
            }
        }
        if needs_lr && opt.lr.is_none() {
            self.error(Diagnostic::new(codes::BAD_OPTION, format!("`{}` needs a learning rate", name.name), v.span, "no `lr`").with_hint(format!("e.g. `{}(lr = 0.01)`", name.name)));
            return None;
        }
        Some(opt)
    }

    fn bad_optimizer<T>(&mut self, span: Span, names: &[&str]) -> Option<T> {
        self.error(Diagnostic::new(codes::BAD_OPTION, "`optimizer` is a call such as `adam(lr = 1e-3)`", span, "not an optimizer").with_hint(format!("the optimizers are {}", names.join(", "))));
        None
    }

    /// A learning rate: a number, `cosine(lr, steps)` or `step_decay(lr, every, factor)`.
    fn schedule(&mut self, cx: &mut BodyCtx, e: &ast::Expr) -> Option<Schedule> {
        if let E::Call { callee, args } = &e.kind {
            if let E::Name(p) = &callee.kind {
                let n = p.segments[0].name.as_str();
                let nums = args.iter().map(|a| self.const_f64(cx, &a.value)).collect::<Option<Vec<_>>>()?;
                let count = |v: f64| v >= 1.0 && v.fract() == 0.0;
                return match (n, nums.as_slice()) {
                    ("cosine", [lr, steps]) if count(*steps) => Some(Schedule::Cosine { lr: *lr, steps: *steps as usize }),
                    ("step_decay", [lr, every, factor]) if count(*every) => Some(Schedule::StepDecay { lr: *lr, every: *every as usize, factor: *factor }),
                    _ => {
                        self.error(Diagnostic::new(codes::BAD_OPTION, "a learning-rate schedule is `cosine(lr, steps)` or `step_decay(lr, every, factor)`", e.span, "not a schedule").with_hint("`steps` and `every` are positive integers"));
                        None
                    }
                };
            }
        }
        let v = self.expr(cx, e)?;
        match const_eval(&v).and_then(|c| c.as_f64()) {
            Some(x) if x > 0.0 && x.is_finite() => Some(Schedule::Constant(x)),
            Some(x) => {
                self.error(Diagnostic::new(codes::BAD_OPTION, format!("a learning rate must be positive, found {x}"), e.span, "not positive"));
                None
            }
            None => {
                self.error(Diagnostic::new(codes::NOT_CONSTANT, "a learning rate must be a number known at compile time or a schedule", e.span, "not a constant"));
                None
            }
        }
    }
}

/// Whether an expression reads a `data` item (such loss arguments are batched).
fn mentions_data(e: &hir::Expr) -> bool {
    match &e.kind {
        ExprKind::Data(_) => true,
        ExprKind::Literal(_) | ExprKind::Local(_) | ExprKind::Param(_) | ExprKind::Random(_) => false,
        ExprKind::Tensor(items) | ExprKind::Tuple(items) | ExprKind::Builtin(_, items) | ExprKind::Call(_, items) => items.iter().any(mentions_data),
        ExprKind::Unary(_, a) | ExprKind::PowInt(a, _) | ExprKind::Convert(a) => mentions_data(a),
        ExprKind::Binary(_, a, b) => mentions_data(a) || mentions_data(b),
        ExprKind::If(c, a, b) => mentions_data(c) || mentions_data(a) || mentions_data(b),
        ExprKind::Block(stmts, v) => mentions_data(v) || stmts.iter().any(|s| matches!(s, hir::BlockStmt::Let(_, x) | hir::BlockStmt::Assign(_, x) if mentions_data(x))),
        ExprKind::Index(b, subs) => mentions_data(b) || subs.iter().any(|s| matches!(s, hir::Subscript::Index(i) if mentions_data(i))),
    }
}

/// Defaults the weak types left in a statement's expression and its locals.
fn default_body(body: &mut Body) {
    default_weak(&mut body.value);
    for l in &mut body.locals {
        l.ty = l.ty.defaulted();
    }
}
