//! Calls: function values (names, lambdas, derivative operators), generic instantiation
//! and monomorphisation, and the types of the derivative operators.

use std::rc::Rc;

use super::consts::ConstValue;
use super::expr::{const_eval, default_weak, mk};
use super::hir::{self, Callee, ExprKind, JacobianMode, Sig, Transform};
use super::scope::{Binding, BodyCtx, FnValue, TransformSpec};
use super::types::{shape_str, Elem, TensorTy, Ty};
use super::{Checker, FileIdx, GenericValue, Global, InstanceKey};
use crate::diag::{codes, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind as E, GenericKind};

/// The derivative operators and `vmap`: names that take a function and give a function.
pub(super) const TRANSFORMS: &[&str] = &[
    "grad", "value_and_grad", "jvp", "vjp", "jacobian", "hessian", "hvp", "taylor", "diff", "laplacian", "rgrad", "vmap",
];

/// An argument as instantiation sees it: its type, where it is, and its value if constant.
pub(super) struct ArgInfo {
    pub ty: Ty,
    pub span: Span,
    pub konst: Option<ConstValue>,
}

impl ArgInfo {
    fn of(e: &hir::Expr) -> ArgInfo {
        ArgInfo { ty: e.ty.clone(), span: e.span, konst: const_eval(e) }
    }
}

impl Checker<'_> {
    /// Whether `e` denotes a function rather than a value.
    pub(super) fn is_fn_expr(&self, cx: &BodyCtx, e: &ast::Expr) -> bool {
        match &e.kind {
            E::Lambda { .. } => true,
            E::Paren(inner) => self.is_fn_expr(cx, inner),
            E::Call { callee, .. } => matches!(&callee.kind, E::Name(p) if p.segments.len() == 1 && TRANSFORMS.contains(&p.segments[0].name.as_str()) && cx.lookup(&p.segments[0].name).is_none()),
            E::Name(path) => {
                if let [name] = &path.segments[..] {
                    match cx.lookup(&name.name) {
                        Some(Binding::Fn(_)) => return true,
                        Some(_) => return false,
                        None => {}
                    }
                }
                match self.lookup_silent(cx.file, path) {
                    Some(g) => matches!(g, Global::Fn(_) | Global::Derived(_)),
                    None => path.segments.len() == 1 && super::builtins::is_elementwise_fn(&path.segments[0].name),
                }
            }
            _ => false,
        }
    }

    /// Resolves a function-valued expression (not yet instantiated).
    pub(super) fn fn_value(&mut self, cx: &mut BodyCtx, e: &ast::Expr) -> Option<FnValue> {
        match &e.kind {
            E::Paren(inner) => self.fn_value(cx, inner),
            E::Lambda { params, body } => Some(FnValue::Lambda {
                params: Rc::new(params.clone()),
                body: Rc::new((**body).clone()),
                scopes: Rc::new(cx.scopes.clone()),
                span: e.span,
            }),
            E::Name(path) => {
                if path.segments.len() == 1 {
                    let name = &path.segments[0];
                    match cx.lookup(&name.name) {
                        Some(Binding::Fn(f)) => return Some(f.clone()),
                        Some(Binding::Poisoned) => return None,
                        Some(_) => {
                            self.error(Diagnostic::new(codes::NOT_CALLABLE, format!("`{}` is a value, not a function", name.name), name.span, "not a function"));
                            return None;
                        }
                        None => {}
                    }
                }
                let global = if path.segments.len() == 1 { self.lookup_global(cx.file, &path.segments[0]) } else { self.lookup_qualified(cx.file, path) };
                match global {
                    Some(Global::Fn(d)) => Some(FnValue::Decl(d)),
                    Some(Global::Derived(d)) => self.derived_value(d, e.span),
                    Some(g) => {
                        self.error(Diagnostic::new(codes::NOT_CALLABLE, format!("`{}` is a {}, not a function", self.sources.snippet(path.span), g.kind()), path.span, "not a function"));
                        None
                    }
                    None if path.segments.len() == 1 && super::builtins::is_elementwise_fn(&path.segments[0].name) => {
                        Some(FnValue::Builtin(path.segments[0].name.clone(), path.span))
                    }
                    None if path.segments.len() == 1 => {
                        if super::builtins::is_builtin(&path.segments[0].name) {
                            self.error(
                                Diagnostic::new(codes::BAD_DERIVATIVE_USE, format!("the built-in `{}` cannot be passed as a function", path.segments[0].name), path.span, "only elementwise built-ins can")
                                    .with_hint(format!("wrap it in a lambda: `|x| {}(x)`", path.segments[0].name)),
                            );
                        } else {
                            self.unknown_name(cx, &path.segments[0]);
                        }
                        None
                    }
                    None => None,
                }
            }
            E::Call { callee, args } => {
                if let E::Name(p) = &callee.kind {
                    let name = &p.segments[0].name;
                    if p.segments.len() == 1 && TRANSFORMS.contains(&name.as_str()) && cx.lookup(name).is_none() {
                        return self.transform_value(cx, &p.segments[0], args, e.span);
                    }
                }
                self.error(
                    Diagnostic::new(codes::NOT_CALLABLE, "this call gives a value, not a function", e.span, "called as a function")
                        .with_hint("only derivative operators such as `grad(f)` give functions"),
                );
                None
            }
            _ => {
                self.error(Diagnostic::new(codes::NOT_CALLABLE, "this expression is not a function", e.span, "not callable"));
                None
            }
        }
    }

    /// The function a `fn df = grad(f);` item stands for, resolved in its own file.
    fn derived_value(&mut self, d: usize, use_span: Span) -> Option<FnValue> {
        if self.derived_cyclic.contains(&d) {
            return None;
        }
        if let Some(at) = self.derived_in_progress.iter().position(|&x| x == d) {
            // Reported once, where the reference that closes the cycle is; every function on
            // it is marked so that resolving the others does not report it again.
            let cycle: Vec<usize> = self.derived_in_progress[at..].to_vec();
            let path = cycle.iter().chain([&d]).map(|&x| format!("`{}`", self.derived[x].name.name)).collect::<Vec<_>>().join(" → ");
            let name = self.derived[d].name.clone();
            self.error(
                Diagnostic::new(codes::RECURSION, format!("`{}` is defined in terms of itself: {path}", name.name), use_span, "this use closes the cycle")
                    .with_label(name.span, "defined here"),
            );
            self.derived_cyclic.extend(cycle);
            return None;
        }
        let (value, file) = (self.derived[d].value.clone(), self.derived[d].file);
        self.derived_in_progress.push(d);
        let mut cx = BodyCtx::new(file);
        let v = self.fn_value(&mut cx, &value);
        self.derived_in_progress.pop();
        v
    }

    /// `grad(f, wrt = 1)` and the other operators, before the call gives their types.
    fn transform_value(&mut self, cx: &mut BodyCtx, name: &ast::Ident, args: &[ast::Arg], span: Span) -> Option<FnValue> {
        let mut spec = TransformSpec { name: name.name.clone(), wrt: None, order: None, samples: None, axis: None };
        let positional: Vec<&ast::Arg> = args.iter().filter(|a| a.name.is_none()).collect();
        let expects_n = name.name == "diff";
        if positional.is_empty() || positional.len() > 1 + usize::from(expects_n) {
            let usage = if expects_n { "`diff(f, n)`".to_string() } else { format!("`{}(f)`", name.name) };
            self.error(Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{}` takes a function: {usage}", name.name), span, "wrong arguments"));
            return None;
        }
        let inner = self.fn_value(cx, &positional[0].value);
        if expects_n {
            match positional.get(1) {
                Some(a) => spec.order = Some(self.nonneg(cx, &a.value, "the order `n` of `diff`")?),
                None => {
                    self.error(Diagnostic::new(codes::BAD_ORDER, "`diff` needs the order: `diff(f, n)`", span, "no order given"));
                    return None;
                }
            }
        }
        for arg in args.iter().filter(|a| a.name.is_some()) {
            let key = arg.name.as_ref().expect("filtered to named");
            let allowed: &[&str] = match name.name.as_str() {
                "grad" | "value_and_grad" | "jacobian" | "hessian" | "hvp" | "rgrad" => &["wrt"],
                "taylor" => &["order"],
                "laplacian" => &["samples"],
                "vmap" => &["axis"],
                _ => &[],
            };
            if !allowed.contains(&key.name.as_str()) {
                let hint = if allowed.is_empty() { format!("`{}` takes no options", name.name) } else { format!("`{}` takes {}", name.name, allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")) };
                self.error(Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{}` has no option `{}`", name.name, key.name), key.span, "unknown option").with_hint(hint));
                return None;
            }
            match key.name.as_str() {
                "wrt" => spec.wrt = Some((self.nonneg(cx, &arg.value, "`wrt`")?, arg.value.span)),
                "order" => spec.order = Some(self.nonneg(cx, &arg.value, "`order`")?),
                "samples" => {
                    let s = self.nonneg(cx, &arg.value, "`samples`")?;
                    if s == 0 {
                        self.error(Diagnostic::new(codes::BAD_ORDER, "`samples` must be at least 1", arg.value.span, "zero samples"));
                        return None;
                    }
                    spec.samples = Some(s);
                }
                _ => spec.axis = Some(self.nonneg(cx, &arg.value, "`axis`")?),
            }
        }
        if name.name == "taylor" && spec.order.is_none() {
            self.error(
                Diagnostic::new(codes::BAD_ORDER, "`taylor` needs its order: `taylor(f, order = K)`", span, "no order given")
                    .with_hint("the result holds the coefficients c0 … cK"),
            );
            return None;
        }
        Some(FnValue::Transform { op: spec, inner: Box::new(inner?), span })
    }

    fn nonneg(&mut self, cx: &mut BodyCtx, e: &ast::Expr, what: &str) -> Option<usize> {
        let v = self.const_int(cx, e, what)?;
        if v < 0 {
            let code = if what.contains("order") { codes::BAD_ORDER } else { codes::BAD_ARGUMENTS };
            self.error(Diagnostic::new(code, format!("{what} must be ≥ 0, found {v}"), e.span, "negative"));
            return None;
        }
        Some(v as usize)
    }

    /// `callee(args…)`: a built-in, or a call of a function value.
    pub(super) fn call(&mut self, cx: &mut BodyCtx, callee: &ast::Expr, args: &[ast::Arg], span: Span) -> Option<hir::Expr> {
        if let E::Name(path) = &callee.kind {
            let name = &path.segments[0];
            // `F(x)` inside `fn f[F: float]` converts to the instance's float type.
            if let (1, Some(elem)) = (path.segments.len(), cx.float_generic(&name.name)) {
                let conversion = ast::Ident { name: elem.name().to_string(), span: name.span };
                return self.builtin_call(cx, &conversion, args, span);
            }
            if path.segments.len() == 1 && cx.lookup(&name.name).is_none() && self.lookup_silent(cx.file, path).is_none() {
                if TRANSFORMS.contains(&name.name.as_str()) {
                    self.error(
                        Diagnostic::new(codes::BAD_DERIVATIVE_USE, format!("`{}(…)` gives a function; call it with the point", name.name), span, "a function, not a value")
                            .with_hint(format!("e.g. `{}(f)(x)`", name.name)),
                    );
                    return None;
                }
                if super::builtins::is_builtin(&name.name) {
                    return self.builtin_call(cx, name, args, span);
                }
            }
        }
        let f = self.fn_value(cx, callee)?;
        let mut checked = Vec::new();
        let mut named = Vec::new();
        let mut ok = true;
        let taylor_order = match &f {
            FnValue::Transform { op, .. } if op.name == "taylor" => op.order,
            _ => None,
        };
        for (i, a) in args.iter().enumerate() {
            let v = match (&a.value.kind, checked.first(), taylor_order) {
                // A direction or a series written out (`[0, e1, e2]`), told apart by shape.
                (E::TensorLit(items), Some(x), Some(order)) if i == 1 && !items.is_empty() => self.taylor_literal(cx, items, x, order, a.value.span),
                _ => self.expr(cx, &a.value),
            };
            match (v, &a.name) {
                (Some(v), None) => {
                    if !named.is_empty() {
                        self.error(Diagnostic::new(codes::BAD_ARGUMENTS, "a positional argument after a named one", a.value.span, "positional").with_hint("put named arguments last"));
                        ok = false;
                    }
                    checked.push(v)
                }
                (Some(v), Some(n)) => named.push((n.clone(), v)),
                (None, _) => ok = false,
            }
        }
        if !ok {
            return None;
        }
        self.call_value(cx, &f, checked, named, span)
    }

    /// The second argument of `taylor(f, order = K)` written as a list literal. It is the
    /// direction when it has the point's shape; otherwise a series `[v1, …, vK]` whose
    /// entries have the point's shape or are scalars broadcast to it (`[0, e1, e2]`). Both
    /// readings fit only a point of shape `[K]` given K scalars: that is the direction (the
    /// literal's own shape wins over broadcasting; docs/language.md).
    fn taylor_literal(&mut self, cx: &mut BodyCtx, items: &[ast::Expr], x: &hir::Expr, order: usize, span: Span) -> Option<hir::Expr> {
        let xt = self.tensor_of(x, "the point of `taylor`")?.clone();
        let entries = items.iter().map(|i| self.expr(cx, i)).collect::<Option<Vec<_>>>()?;
        let mut shapes = Vec::with_capacity(entries.len());
        for e in &entries {
            shapes.push(self.tensor_of(e, "an entry of the second argument of `taylor`")?.shape.clone());
        }
        let is_direction = xt.shape.first() == Some(&entries.len()) && shapes.iter().all(|s| s[..] == xt.shape[1..]);
        if is_direction {
            return self.tensor_of_items(entries, span);
        }
        let is_series = entries.len() == order && shapes.iter().all(|s| s.is_empty() || *s == xt.shape);
        if !is_series {
            let what = match shapes.iter().find(|s| **s != shapes[0]) {
                None => format!("{} entr{} of shape {}", entries.len(), if entries.len() == 1 { "y" } else { "ies" }, shape_str(&shapes[0])),
                Some(other) => format!("entries of shapes {} and {}", shape_str(&shapes[0]), shape_str(other)),
            };
            self.error(
                Diagnostic::new(
                    codes::SHAPE_MISMATCH,
                    format!("the second argument of `taylor` is a direction of shape {xs} or a series of {order} entries (each of shape {xs} or a scalar), but this list has {what}", xs = shape_str(&xt.shape)),
                    span,
                    "neither a direction nor a series",
                )
                .with_label(x.span, format!("the point has shape {}", shape_str(&xt.shape)))
                .with_hint(format!("a series lists v1 … v{order}: `[v1, v2, …]`, each entry a direction or a scalar such as 0")),
            );
            return None;
        }
        let mut entries = entries;
        for (e, s) in entries.iter_mut().zip(&shapes) {
            if s.is_empty() && !xt.shape.is_empty() {
                let ty = Ty::tensor(e.elem(), xt.shape.clone());
                let item = std::mem::replace(e, mk(ExprKind::Tuple(vec![]), Ty::Tuple(vec![]), span));
                let at = item.span;
                *e = mk(ExprKind::Builtin(hir::Builtin::Broadcast, vec![item]), ty, at);
            }
        }
        let mut elem = xt.elem;
        for e in &entries {
            elem = Elem::unify(elem, e.elem()).unwrap_or(elem);
        }
        for e in &mut entries {
            self.coerce(e, elem);
        }
        let shape = std::iter::once(entries.len()).chain(xt.shape.iter().copied()).collect();
        Some(mk(ExprKind::Tensor(entries), Ty::tensor(elem, shape), span))
    }

    /// Calls a function value on checked arguments.
    pub(super) fn call_value(&mut self, cx: &mut BodyCtx, f: &FnValue, mut args: Vec<hir::Expr>, named: Vec<(ast::Ident, hir::Expr)>, span: Span) -> Option<hir::Expr> {
        let infos: Vec<ArgInfo> = args.iter().map(ArgInfo::of).collect();
        let named_infos: Vec<(ast::Ident, ArgInfo)> = named.iter().map(|(n, e)| (n.clone(), ArgInfo::of(e))).collect();
        if !named_infos.is_empty() && !matches!(f, FnValue::Decl(_)) {
            self.error(Diagnostic::new(codes::BAD_ARGUMENTS, "named arguments are for `fn` items only", named_infos[0].0.span, "named argument"));
            return None;
        }
        let (callee, sig, order) = self.instantiate(cx, f, &infos, &named_infos, span)?;
        // Compile-time parameters were folded into the instance; pass the others in the
        // order the function declares them.
        let mut all: Vec<Option<hir::Expr>> = args.drain(..).map(Some).chain(named.into_iter().map(|(_, e)| Some(e))).collect();
        let mut out = Vec::with_capacity(order.len());
        for (&i, want) in order.iter().zip(&sig.params) {
            let e = all[i].take().expect("each argument is passed once");
            out.push(self.expect_ty(e, want, "this argument", None)?);
        }
        let ret = sig.ret.clone();
        Some(mk(ExprKind::Call(Box::new(callee), out), ret, span))
    }

    /// Instantiates a function value at argument types. Returns the callee, its signature
    /// (runtime parameters only), and for each runtime parameter the index of its argument
    /// among the positional then the named arguments.
    pub(super) fn instantiate(&mut self, cx: &mut BodyCtx, f: &FnValue, args: &[ArgInfo], named: &[(ast::Ident, ArgInfo)], span: Span) -> Option<(Callee, Sig, Vec<usize>)> {
        match f {
            FnValue::Decl(d) => self.instantiate_decl(*d, args, named, span),
            FnValue::Builtin(name, bspan) => {
                if args.len() != 1 {
                    self.error(Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{name}` takes 1 argument, given {}", args.len()), span, "wrong number of arguments"));
                    return None;
                }
                let ty = args[0].ty.defaulted();
                let id = cx.new_local("x", ty.clone(), *bspan);
                let x = mk(ExprKind::Local(id), ty.clone(), *bspan);
                let body = self.elementwise_builtin(name, x, *bspan)?;
                let sig = Sig { params: vec![ty], ret: body.ty.clone() };
                Some((Callee::Lambda { params: vec![id], body }, sig, vec![0]))
            }
            FnValue::Lambda { params, body, scopes, span: lspan } => {
                if params.len() != args.len() {
                    self.error(
                        Diagnostic::new(codes::BAD_ARGUMENTS, format!("this lambda takes {} arguments, given {}", params.len(), args.len()), span, "called here")
                            .with_label(*lspan, "the lambda"),
                    );
                    return None;
                }
                let saved = std::mem::replace(&mut cx.scopes, (**scopes).clone());
                cx.push_scope();
                let mut ids = Vec::new();
                let mut tys = Vec::new();
                let mut ok = true;
                for (p, a) in params.iter().zip(args) {
                    let ty = match &p.ty {
                        Some(t) => match self.resolve_type(cx, t) {
                            Some(t) if a.ty.coerces_to(&t) => t,
                            Some(t) => {
                                self.error(
                                    Diagnostic::new(codes::TYPE_MISMATCH, format!("argument `{}`: expected `{t}`, found `{}`", p.name.name, a.ty), a.span, format!("this is `{}`", a.ty))
                                        .with_label(t_span(p), format!("`{t}` declared here")),
                                );
                                ok = false;
                                t
                            }
                            None => {
                                ok = false;
                                a.ty.defaulted()
                            }
                        },
                        None => a.ty.defaulted(),
                    };
                    let id = cx.new_local(&p.name.name, ty.clone(), p.name.span);
                    cx.bind(&p.name.name, Binding::Value { id, mutable: false });
                    ids.push(id);
                    tys.push(ty);
                }
                let body = if ok { self.expr(cx, body) } else { None };
                cx.pop_scope();
                cx.scopes = saved;
                // A weak result stays weak, so that the call takes the type of its context
                // (`let y: f32[2] = (|t| [0.5, 1.5])(x)`), as a literal would.
                let body = body?;
                let sig = Sig { params: tys, ret: body.ty.clone() };
                Some((Callee::Lambda { params: ids, body }, sig, (0..args.len()).collect()))
            }
            FnValue::Transform { op, inner, span: tspan } => self.instantiate_transform(cx, op, inner, args, span, *tspan),
        }
    }

    fn instantiate_transform(&mut self, cx: &mut BodyCtx, spec: &TransformSpec, inner: &FnValue, args: &[ArgInfo], call_span: Span, tspan: Span) -> Option<(Callee, Sig, Vec<usize>)> {
        let name = spec.name.as_str();
        let n = args.len();
        // The argument types as written, weak literals included: the inner function is
        // instantiated at them as at a direct call, so an untyped `0` becomes the type its
        // parameter declares (Go-style, docs/language.md).
        let arg_tys: Vec<Ty> = args.iter().map(|a| a.ty.clone()).collect();
        let plain = |tys: &[Ty]| tys.iter().map(|t| ArgInfo { ty: t.clone(), span: call_span, konst: None }).collect::<Vec<_>>();
        let wrong_count = |me: &mut Self, want: &str| {
            me.error(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{name}(f)` takes {want}, given {n} arguments"), call_span, "wrong number of arguments")
                    .with_label(tspan, format!("this `{name}`")),
            );
            None
        };
        // The argument types the inner function is called with.
        let inner_args: Vec<Ty> = match name {
            "jvp" | "hvp" if n % 2 == 1 || n == 0 => return wrong_count(self, "its points then as many tangents"),
            "jvp" => arg_tys[..n / 2].to_vec(),
            "hvp" => arg_tys[..n / 2].to_vec(),
            "vjp" | "rgrad" if n < 2 => return wrong_count(self, "its points then one cotangent"),
            "vjp" | "rgrad" => arg_tys[..n - 1].to_vec(),
            "taylor" if n != 2 => return wrong_count(self, "2 arguments, the point and the direction (or series)"),
            "taylor" | "diff" | "laplacian" => arg_tys[..1.min(n)].to_vec(),
            // The batch size is read off the arguments: there must be one.
            "vmap" if n == 0 => return wrong_count(self, "at least 1 argument"),
            "vmap" => {
                let axis = spec.axis.unwrap_or(0);
                let mut tys = Vec::new();
                let mut batch: Option<(usize, Span)> = None;
                for a in args {
                    let t = self.transform_tensor(&a.ty, a.span, name)?;
                    if axis >= t.rank() {
                        self.error(Diagnostic::new(codes::BAD_VMAP, format!("`vmap` over axis {axis} of a value of rank {}", t.rank()), a.span, format!("this is `{t}`")));
                        return None;
                    }
                    let b = t.shape[axis];
                    if let Some((b0, s0)) = batch {
                        if b0 != b {
                            self.error(
                                Diagnostic::new(codes::BAD_VMAP, format!("`vmap` arguments have {b0} and {b} entries along axis {axis}"), a.span, format!("{b} entries"))
                                    .with_label(s0, format!("{b0} entries")),
                            );
                            return None;
                        }
                    }
                    batch = Some((b, a.span));
                    let mut s = t.shape.clone();
                    s.remove(axis);
                    tys.push(Ty::tensor(t.elem, s));
                }
                tys
            }
            _ => arg_tys.clone(),
        };
        if name == "diff" && n != 1 {
            return wrong_count(self, "1 argument");
        }
        // A derivative is taken with respect to floats only, so an untyped integer at a
        // differentiated position is a float literal (`grad(|x| x * x)(1)` is at `x = 1.0`).
        let mut inner_args = inner_args;
        let differentiated: Vec<usize> = match name {
            "grad" | "value_and_grad" | "jacobian" | "hessian" | "hvp" => vec![spec.wrt.map_or(0, |w| w.0)],
            "vmap" | "rgrad" => Vec::new(),
            _ => (0..inner_args.len()).collect(),
        };
        for i in differentiated {
            if let Some(Ty::Tensor(t)) = inner_args.get_mut(i) {
                if t.elem == Elem::WeakInt {
                    t.elem = Elem::WeakFloat;
                }
            }
        }
        if name == "laplacian" && n != 1 {
            return wrong_count(self, "1 argument");
        }
        let (inner_callee, inner_sig, _) = self.instantiate(cx, inner, &plain(&inner_args), &[], call_span)?;
        let k = inner_sig.params.len();
        let wrt = spec.wrt.map_or(0, |w| w.0);
        if let Some((w, wspan)) = spec.wrt {
            if w >= k {
                self.error(
                    Diagnostic::new(codes::BAD_WRT, format!("`wrt = {w}` but the function has {k} argument{}", if k == 1 { "" } else { "s" }), wspan, "out of range")
                        .with_hint(format!("arguments count from 0: `wrt` is 0 to {}", k.saturating_sub(1))),
                );
                return None;
            }
        }
        let ret = inner_sig.ret.clone();
        let is_diff_op = !matches!(name, "vmap" | "rgrad");
        if is_diff_op {
            // Differentiated arguments must be floats.
            let checked: Vec<usize> = match name {
                "grad" | "value_and_grad" | "jacobian" | "hessian" | "hvp" => vec![wrt],
                _ => (0..k).collect(),
            };
            for i in checked {
                let t = inner_sig.params[i].as_tensor();
                if !t.is_some_and(|t| t.elem.is_float()) {
                    self.error(
                        Diagnostic::new(codes::BAD_WRT, format!("`{name}` differentiates with respect to argument {i}, which is `{}`, not a float", inner_sig.params[i]), args.get(i).map_or(call_span, |a| a.span), "not a float")
                            .with_label(tspan, format!("this `{name}`"))
                            .with_hint(if spec.wrt.is_none() && k > 1 { "choose a float argument with `wrt = k`" } else { "derivatives are taken with respect to `f32` or `f64` values" }),
                    );
                    return None;
                }
            }
        }
        let scalar_float = |t: &Ty| t.as_tensor().is_some_and(|t| t.is_scalar() && t.elem.is_float());
        if matches!(name, "grad" | "value_and_grad" | "hessian" | "hvp" | "laplacian") && !scalar_float(&ret) {
            self.error(
                Diagnostic::new(codes::GRAD_NOT_SCALAR, format!("`{name}` needs a function with a scalar float result, but this one returns `{ret}`"), tspan, format!("`{name}` of a `{ret}` function"))
                    .with_hint(match ret.as_tensor() {
                        Some(t) if t.elem.is_float() => "reduce the result to a scalar (e.g. `sum`), or use `jacobian` / `vjp`",
                        _ => "the result must be `f32` or `f64`",
                    }),
            );
            return None;
        }
        if name == "diff" && !(scalar_float(&ret) && scalar_float(&inner_sig.params[0])) {
            self.error(Diagnostic::new(codes::BAD_DERIVATIVE_USE, format!("`diff` needs a scalar function of a scalar, found `{}` -> `{ret}`", inner_sig.params[0]), tspan, "not scalar to scalar").with_hint("use `taylor` along a direction for tensors"));
            return None;
        }
        if matches!(name, "taylor" | "diff" | "laplacian") && k != 1 {
            self.error(Diagnostic::new(codes::BAD_DERIVATIVE_USE, format!("`{name}` needs a function of one argument, this one has {k}"), tspan, "several arguments").with_hint("close over the others with a lambda: `|x| f(x, y)`"));
            return None;
        }
        if name == "rgrad" {
            fn is_bool(t: &Ty) -> bool {
                match t {
                    Ty::Tensor(t) => t.elem == Elem::Bool,
                    Ty::Tuple(ts) => ts.iter().all(is_bool),
                }
            }
            let all_bool = inner_sig.params.iter().chain([&ret]).all(is_bool);
            if !all_bool {
                self.error(
                    Diagnostic::new(codes::RGRAD_NOT_BOOL, format!("`rgrad` needs a `bool` circuit, this function is `({}) -> {ret}`", inner_sig.params.iter().map(Ty::to_string).collect::<Vec<_>>().join(", ")), tspan, "not a `bool` function")
                        .with_hint("the reverse derivative over Z2 is for functions of `bool` values; use `grad` for floats"),
                );
                return None;
            }
        }
        let float_of = |t: &Ty| t.as_tensor().map_or(Elem::F64, |t| t.elem);
        let extra = |t: &Ty, prefix: &[usize], suffix: &[usize]| -> Ty {
            let t = t.as_tensor().expect("checked to be a tensor");
            let mut s = prefix.to_vec();
            s.extend(&t.shape);
            s.extend(suffix);
            Ty::tensor(t.elem, s)
        };
        // The outer signature: the parameters the transformed function takes and its result.
        let (op, params, out) = match name {
            "grad" => (Transform::Grad { wrt }, inner_sig.params.clone(), inner_sig.params[wrt].clone()),
            "value_and_grad" => (Transform::ValueAndGrad { wrt }, inner_sig.params.clone(), Ty::Tuple(vec![ret.clone(), inner_sig.params[wrt].clone()])),
            "jvp" => {
                let mut p = inner_sig.params.clone();
                p.extend(inner_sig.params.clone());
                (Transform::Jvp, p, ret.clone())
            }
            "vjp" => {
                let mut p = inner_sig.params.clone();
                p.push(ret.clone());
                let out = if k == 1 { inner_sig.params[0].clone() } else { Ty::Tuple(inner_sig.params.clone()) };
                (Transform::Vjp, p, out)
            }
            "jacobian" => {
                let out_t = self.transform_tensor(&ret, tspan, name)?.clone();
                let in_t = inner_sig.params[wrt].as_tensor().expect("float checked").clone();
                // Forward mode costs one pass per input entry, reverse one per output entry.
                let mode = if in_t.len() <= out_t.len() { JacobianMode::Forward } else { JacobianMode::Reverse };
                (Transform::Jacobian { wrt, mode }, inner_sig.params.clone(), extra(&ret, &[], &in_t.shape))
            }
            "hessian" => {
                let in_t = inner_sig.params[wrt].as_tensor().expect("float checked").clone();
                (Transform::Hessian { wrt }, inner_sig.params.clone(), extra(&inner_sig.params[wrt], &[], &in_t.shape))
            }
            "hvp" => {
                let mut p = inner_sig.params.clone();
                p.extend(inner_sig.params.clone());
                (Transform::Hvp { wrt }, p, inner_sig.params[wrt].clone())
            }
            "taylor" => {
                let order = spec.order.expect("checked when the operator was read");
                let x = inner_sig.params[0].clone();
                let xt = x.as_tensor().expect("float checked").clone();
                let out_t = self.transform_tensor(&ret, tspan, name)?.clone();
                let dir = &args[1].ty;
                let series_shape: Vec<usize> = std::iter::once(order).chain(xt.shape.iter().copied()).collect();
                let jet = match dir.as_tensor() {
                    Some(d) if d.shape == xt.shape => false,
                    Some(d) if d.shape == series_shape => true,
                    _ => {
                        self.error(
                            Diagnostic::new(codes::SHAPE_MISMATCH, format!("`taylor` along `{x}`: the second argument must be a direction `{x}` or a series of shape {}, found `{dir}`", shape_str(&series_shape)), args[1].span, format!("this is `{dir}`"))
                                .with_hint(format!("a series lists v1 … v{order}: `[v1, v2, …]`")),
                        );
                        return None;
                    }
                };
                let second = Ty::tensor(xt.elem, if jet { series_shape } else { xt.shape.clone() });
                let out = Ty::tensor(out_t.elem, std::iter::once(order + 1).chain(out_t.shape.iter().copied()).collect());
                (Transform::Taylor { order, jet }, vec![x, second], out)
            }
            "diff" => (Transform::Diff { n: spec.order.expect("diff has its order") }, inner_sig.params.clone(), ret.clone()),
            "laplacian" => (Transform::Laplacian { samples: spec.samples }, inner_sig.params.clone(), Ty::scalar(float_of(&ret))),
            "rgrad" => {
                let mut p = inner_sig.params.clone();
                p.push(ret.clone());
                (Transform::RGrad { wrt }, p, inner_sig.params[wrt].clone())
            }
            "vmap" => {
                let axis = spec.axis.unwrap_or(0);
                let b = args[0].ty.as_tensor().map_or(1, |t| t.shape[axis]);
                let batch = |t: &Ty| -> Ty { batch_ty(t, b) };
                // Each argument is the inner parameter with the mapped axis put back, so that
                // the call converts a weak argument to the type the inner function takes.
                let mut params = Vec::with_capacity(k);
                for p in &inner_sig.params {
                    let mut t = self.transform_tensor(p, tspan, name)?.clone();
                    t.shape.insert(axis, b);
                    params.push(Ty::Tensor(t));
                }
                (Transform::Vmap { axis, size: b }, params, batch(&ret))
            }
            _ => unreachable!("TRANSFORMS lists the names handled here"),
        };
        let sig = Sig { params, ret: out };
        let order = (0..sig.params.len()).collect();
        Some((Callee::Transform { op, inner: Box::new(inner_callee), inner_sig }, sig, order))
    }

    fn transform_tensor<'t>(&mut self, ty: &'t Ty, span: Span, name: &str) -> Option<&'t TensorTy> {
        match ty {
            Ty::Tensor(t) => Some(t),
            Ty::Tuple(_) => {
                self.error(Diagnostic::new(codes::BAD_DERIVATIVE_USE, format!("`{name}` of a function with a tuple `{ty}`"), span, "a tuple").with_hint("use a function of tensors"));
                None
            }
        }
    }

    /// Instantiates a `fn` item: binds its generics and compile-time parameters and checks
    /// the body at those types, once per distinct instance.
    fn instantiate_decl(&mut self, d: usize, args: &[ArgInfo], named: &[(ast::Ident, ArgInfo)], span: Span) -> Option<(Callee, Sig, Vec<usize>)> {
        let decl = self.fn_decls[d].decl.clone();
        let file = self.fn_decls[d].file;
        let params = &decl.params;
        if args.len() > params.len() {
            self.error(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{}` takes {} argument{}, given {}", decl.name.name, params.len(), if params.len() == 1 { "" } else { "s" }, args.len()), args[params.len()].span, "extra argument")
                    .with_label(decl.name.span, "defined here"),
            );
            return None;
        }
        // Match each parameter with its argument.
        let mut given: Vec<Option<&ArgInfo>> = args.iter().map(Some).collect();
        given.resize_with(params.len(), || None);
        let mut source: Vec<usize> = (0..params.len()).collect();
        for (k, (n, a)) in named.iter().enumerate() {
            match params.iter().position(|p| p.name.name == n.name) {
                Some(i) if given[i].is_some() => {
                    self.error(Diagnostic::new(codes::BAD_ARGUMENTS, format!("argument `{}` is given twice", n.name), n.span, "given again by name"));
                    return None;
                }
                Some(i) => {
                    given[i] = Some(a);
                    source[i] = args.len() + k;
                }
                None => {
                    let names: Vec<String> = params.iter().map(|p| format!("`{}`", p.name.name)).collect();
                    self.error(
                        Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{}` has no parameter `{}`", decl.name.name, n.name), n.span, "unknown parameter")
                            .with_label(decl.name.span, "defined here")
                            .with_hint(format!("its parameters are {}", names.join(", "))),
                    );
                    return None;
                }
            }
        }
        let mut bindings: Vec<(String, GenericValue, Span)> = Vec::new();
        let mut weak_floats: Vec<String> = Vec::new();
        let mut consts: Vec<(String, ConstValue)> = Vec::new();
        for (p, a) in params.iter().zip(&given) {
            let is_const = p.default.is_some();
            match (a, is_const) {
                (None, false) => {
                    self.error(
                        Diagnostic::new(codes::BAD_ARGUMENTS, format!("missing argument `{}` of `{}`", p.name.name, decl.name.name), span, "in this call")
                            .with_label(p.span, "this parameter has no default"),
                    );
                    return None;
                }
                (None, true) => {
                    let mut cx = BodyCtx::new(file);
                    let v = self.expr(&mut cx, p.default.as_ref().expect("is_const"))?;
                    consts.push((p.name.name.clone(), const_eval(&v)?));
                }
                (Some(a), true) => match &a.konst {
                    Some(v) => consts.push((p.name.name.clone(), v.clone())),
                    None => {
                        self.error(
                            Diagnostic::new(codes::NOT_CONSTANT, format!("`{}` is a compile-time parameter of `{}`; its argument must be known at compile time", p.name.name, decl.name.name), a.span, "computed at run time")
                                .with_label(p.span, "a parameter with a default is compile-time"),
                        );
                        return None;
                    }
                },
                (Some(a), false) => {
                    if !self.bind_generics(&decl, file, &p.ty, &a.ty, a.span, &mut bindings, &mut weak_floats) {
                        return None;
                    }
                }
            }
        }
        let order: Vec<usize> = params.iter().enumerate().filter(|(_, p)| p.default.is_none()).map(|(i, _)| source[i]).collect();
        for name in weak_floats {
            if !bindings.iter().any(|(n, _, _)| *n == name) {
                bindings.push((name, GenericValue::Float(Elem::F64), span));
            }
        }
        // Every generic must be bound by now.
        let mut ordered = Vec::new();
        for g in &decl.generics {
            match bindings.iter().find(|(n, _, _)| *n == g.name.name) {
                Some((_, v, _)) => ordered.push(v.clone()),
                None => {
                    self.error(
                        Diagnostic::new(codes::GENERIC_UNINFERRED, format!("cannot infer `{}` of `{}` from the arguments", g.name.name, decl.name.name), span, "in this call")
                            .with_label(g.span, "no parameter's type determines this")
                            .with_hint("every generic must appear in the type of a parameter without a default"),
                    );
                    return None;
                }
            }
        }
        let key = InstanceKey { decl: d, generics: ordered.clone(), consts: consts.iter().map(|(_, v)| v.show()).collect() };
        let mut cx = BodyCtx::new(file);
        for (g, v) in decl.generics.iter().zip(&ordered) {
            match v {
                GenericValue::Dim(n) => cx.bind(&g.name.name, Binding::Const(ConstValue::Int(*n as i64))),
                GenericValue::Float(e) => cx.float_generics.push((g.name.name.clone(), *e)),
                GenericValue::Rest(s) => cx.rest_generics.push((g.name.name.clone(), s.clone())),
            }
        }
        for (n, v) in &consts {
            cx.bind(n, Binding::Const(v.clone()));
        }
        let mut param_tys = Vec::new();
        for p in params.iter().filter(|p| p.default.is_none()) {
            param_tys.push(self.resolve_type(&mut cx, &p.ty)?);
        }
        // Recursion first: while a body is checked its instance is cached as `None`.
        if let Some(pos) = self.in_progress.iter().position(|(x, _)| *x == d) {
            // The chain of calls from the first call of `decl` back to this one.
            let chain: Vec<(String, Span)> = self.in_progress[pos..].iter().map(|(x, s)| (self.fn_decls[*x].decl.name.name.clone(), *s)).collect();
            let name = &decl.name.name;
            let msg = if chain.len() == 1 {
                format!("`{name}` calls itself")
            } else {
                format!("`{name}` calls itself through {}", chain[1..].iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", "))
            };
            let mut diag = Diagnostic::new(codes::RECURSION, msg, span, format!("`{name}` is called again here")).with_label(decl.name.span, format!("`{name}` is defined here"));
            if chain[0].1 != decl.name.span {
                diag = diag.with_label(chain[0].1, "while checking this call");
            }
            for w in chain.windows(2) {
                diag = diag.with_label(w[1].1, format!("`{}` calls `{}` here", w[0].0, w[1].0));
            }
            self.error(diag.with_hint("gd functions are inlined into one graph and cannot recurse; write the recursion as a `for` loop"));
            return None;
        }
        if let Some(&found) = self.instances.get(&key) {
            let id = found?;
            let f = &self.program.fns[id.index()];
            let sig = Sig { params: param_tys, ret: f.ret.clone() };
            return Some((Callee::Fn(id), sig, order));
        }
        self.instances.insert(key.clone(), None);
        self.in_progress.push((d, span));
        let result = self.check_fn_body(&decl, &mut cx, &param_tys, &ordered, &consts);
        self.in_progress.pop();
        let (inst, ret) = result?;
        let id = hir::FnId(self.program.fns.len() as u32);
        self.program.fns.push(inst);
        self.instances.insert(key, Some(id));
        Some((Callee::Fn(id), Sig { params: param_tys, ret }, order))
    }

    /// Binds the generics in a parameter's declared type against its argument's type.
    #[allow(clippy::too_many_arguments)]
    fn bind_generics(&mut self, decl: &ast::FnDecl, file: FileIdx, declared: &ast::Type, arg: &Ty, arg_span: Span, bindings: &mut Vec<(String, GenericValue, Span)>, weak_floats: &mut Vec<String>) -> bool {
        let kind_of = |name: &str| decl.generics.iter().find(|g| g.name.name == name).map(|g| g.kind.clone());
        let mismatch = |me: &mut Self, msg: String| {
            me.error(
                Diagnostic::new(codes::TYPE_MISMATCH, msg, arg_span, format!("this is `{arg}`"))
                    .with_label(declared.span, format!("parameter of `{}` declared here", decl.name.name)),
            );
            false
        };
        match (&declared.kind, arg) {
            (ast::TypeKind::Tuple(items), Ty::Tuple(tys)) if items.len() == tys.len() => {
                items.iter().zip(tys).all(|(i, t)| self.bind_generics(decl, file, i, t, arg_span, bindings, weak_floats))
            }
            (ast::TypeKind::Tensor { elem, dims }, Ty::Tensor(t)) => {
                // The element type.
                if kind_of(&elem.name) == Some(GenericKind::Float) {
                    if !t.elem.is_float() {
                        return mismatch(self, format!("`{}` must be a float type (`f32` or `f64`), found `{}`", elem.name, t.elem.name()));
                    }
                    if t.elem.is_weak() {
                        weak_floats.push(elem.name.clone());
                    } else if !self.bind_one(&elem.name, GenericValue::Float(t.elem), arg_span, declared.span, &decl.name.name, bindings) {
                        return false;
                    }
                } else if kind_of(&elem.name).is_some() {
                    self.error(Diagnostic::new(codes::GENERIC_KIND, format!("`{}` is a shape variable, used as an element type", elem.name), elem.span, "not a float type variable").with_hint(format!("declare it as `{}: float`", elem.name)));
                    return false;
                }
                // The dimensions: literals and constants must match, variables bind.
                let dims = dims.as_deref().unwrap_or(&[]);
                let rest_at = dims.iter().position(|d| matches!(d, ast::Dim::Rest(_)));
                let fixed = dims.len() - usize::from(rest_at.is_some());
                let ok_rank = if rest_at.is_some() { t.rank() >= fixed } else { t.rank() == fixed };
                if !ok_rank {
                    let want = if rest_at.is_some() { format!("at least {fixed}") } else { fixed.to_string() };
                    self.error(
                        Diagnostic::new(codes::SHAPE_MISMATCH, format!("expected a value of rank {want} for `{}`, found `{arg}` (rank {})", self.sources.snippet(declared.span), t.rank()), arg_span, format!("this is `{arg}`"))
                            .with_label(declared.span, format!("parameter of `{}` declared here", decl.name.name)),
                    );
                    return false;
                }
                let tail = t.rank() - fixed;
                let mut axis = 0;
                for d in dims {
                    match d {
                        ast::Dim::Rest(name) => {
                            let s = t.shape[axis..axis + tail].to_vec();
                            axis += tail;
                            if !self.bind_one(&name.name, GenericValue::Rest(s), arg_span, declared.span, &decl.name.name, bindings) {
                                return false;
                            }
                        }
                        ast::Dim::Lit(n, _) => {
                            if t.shape[axis] as i64 != *n {
                                return self.dim_mismatch(declared, arg, arg_span, axis, &n.to_string(), &decl.name.name);
                            }
                            axis += 1;
                        }
                        ast::Dim::Name(name) => {
                            match kind_of(&name.name) {
                                Some(GenericKind::Dim) => {
                                    if !self.bind_one(&name.name, GenericValue::Dim(t.shape[axis]), arg_span, declared.span, &decl.name.name, bindings) {
                                        return false;
                                    }
                                }
                                Some(_) => {
                                    self.error(Diagnostic::new(codes::GENERIC_KIND, format!("`{}` is not a dimension variable", name.name), name.span, "used as a dimension"));
                                    return false;
                                }
                                None => {
                                    // A constant; its value is checked when the type is resolved.
                                    let ident = name.clone();
                                    if let Some(Global::Const(c)) = self.lookup_global(file, &ident) {
                                        if let Some(ConstValue::Int(v)) = self.const_value(c, Some(ident.span)) {
                                            if t.shape[axis] as i64 != v {
                                                return self.dim_mismatch(declared, arg, arg_span, axis, &format!("{} = {v}", name.name), &decl.name.name);
                                            }
                                        }
                                    }
                                }
                            }
                            axis += 1;
                        }
                    }
                }
                true
            }
            _ => mismatch(self, format!("expected `{}`, found `{arg}`", self.sources.snippet(declared.span))),
        }
    }

    fn dim_mismatch(&mut self, declared: &ast::Type, arg: &Ty, arg_span: Span, axis: usize, want: &str, fname: &str) -> bool {
        let found = arg.as_tensor().map_or(0, |t| t.shape[axis]);
        self.error(
            Diagnostic::new(codes::SHAPE_MISMATCH, format!("dimension {axis} must be {want}, found {found} (`{arg}` for `{}`)", self.sources.snippet(declared.span)), arg_span, format!("this is `{arg}`"))
                .with_label(declared.span, format!("parameter of `{fname}` declared here")),
        );
        false
    }

    fn bind_one(&mut self, name: &str, v: GenericValue, arg_span: Span, decl_span: Span, fname: &str, bindings: &mut Vec<(String, GenericValue, Span)>) -> bool {
        match bindings.iter().find(|(n, _, _)| n == name) {
            Some((_, old, old_span)) if *old != v => {
                let show = |g: &GenericValue| match g {
                    GenericValue::Dim(d) => d.to_string(),
                    GenericValue::Float(e) => e.name().to_string(),
                    GenericValue::Rest(s) => shape_str(s),
                };
                self.error(
                    Diagnostic::new(codes::GENERIC_CONFLICT, format!("`{name}` of `{fname}` would be both {} and {}", show(old), show(&v)), arg_span, format!("here `{name}` = {}", show(&v)))
                        .with_label(*old_span, format!("here `{name}` = {}", show(old)))
                        .with_label(decl_span, format!("`{name}` appears in this parameter's type"))
                        .with_hint(format!("all uses of `{name}` in one call must agree")),
                );
                false
            }
            Some(_) => true,
            None => {
                bindings.push((name.to_string(), v, arg_span));
                true
            }
        }
    }

    /// Checks the body (and `with jvp` rule) of one instance.
    fn check_fn_body(&mut self, decl: &ast::FnDecl, cx: &mut BodyCtx, param_tys: &[Ty], generics: &[GenericValue], consts: &[(String, ConstValue)]) -> Option<(hir::FnInstance, Ty)> {
        let mut params = Vec::new();
        for (p, ty) in decl.params.iter().filter(|p| p.default.is_none()).zip(param_tys) {
            let id = cx.new_local(&p.name.name, ty.clone(), p.name.span);
            cx.bind(&p.name.name, Binding::Value { id, mutable: false });
            params.push(id);
        }
        let declared_ret = match &decl.ret {
            Some(t) => Some(self.resolve_type(cx, t)?),
            None => None,
        };
        cx.push_scope();
        let body = self.block(cx, &decl.body);
        cx.pop_scope();
        let mut body = body?;
        if let Some(ret) = &declared_ret {
            body = self.expect_ty(body, ret, &format!("the result of `{}`", decl.name.name), decl.ret.as_ref().map(|t| t.span))?;
        }
        default_weak(&mut body);
        let ret = declared_ret.unwrap_or_else(|| body.ty.clone());
        let jvp_rule = match &decl.jvp_rule {
            Some(rule) => Some(self.check_jvp_rule(decl, rule, cx, param_tys, &ret)?),
            None => None,
        };
        for l in &mut cx.locals {
            l.ty = l.ty.defaulted();
        }
        let mut name = decl.name.name.clone();
        let mut parts: Vec<String> = decl.generics.iter().zip(generics).map(|(g, v)| match v {
            GenericValue::Dim(d) => format!("{}={d}", g.name.name),
            GenericValue::Float(e) => format!("{}={}", g.name.name, e.name()),
            GenericValue::Rest(s) => format!("{}={}", g.name.name, shape_str(s)),
        }).collect();
        parts.extend(consts.iter().map(|(n, v)| format!("{n}={}", v.show())));
        if !parts.is_empty() {
            name = format!("{name}[{}]", parts.join(", "));
        }
        let inst = hir::FnInstance {
            name,
            span: decl.name.span,
            params,
            ret: ret.clone(),
            body: hir::Body { locals: std::mem::take(&mut cx.locals), value: body },
            jvp_rule,
        };
        Some((inst, ret))
    }

    fn check_jvp_rule(&mut self, decl: &ast::FnDecl, rule: &ast::JvpRule, cx: &mut BodyCtx, param_tys: &[Ty], ret: &Ty) -> Option<hir::JvpRule> {
        let n = param_tys.len();
        if rule.args.len() != 2 * n {
            self.error(
                Diagnostic::new(codes::BAD_JVP_RULE, format!("the `jvp` rule of `{}` takes {} names (each primal, then each tangent), found {}", decl.name.name, 2 * n, rule.args.len()), rule.span, "wrong number of names")
                    .with_hint(if n == 1 { "write `with jvp(x, dx) { … }`" } else { "write `with jvp(x, y, dx, dy) { … }`" }),
            );
            return None;
        }
        cx.push_scope();
        let mut ids = Vec::new();
        for (i, a) in rule.args.iter().enumerate() {
            let id = cx.new_local(&a.name, param_tys[i % n].clone(), a.span);
            cx.bind(&a.name, Binding::Value { id, mutable: false });
            ids.push(id);
        }
        let value = self.block(cx, &rule.body);
        cx.pop_scope();
        let value = value?;
        let mut value = self.expect_ty(value, ret, &format!("the `jvp` rule of `{}` (a tangent of the result)", decl.name.name), decl.ret.as_ref().map(|t| t.span))?;
        default_weak(&mut value);
        let tangents = ids.split_off(n);
        Some(hir::JvpRule { primals: ids, tangents, value })
    }

    /// Resolves a written type in a body's context (its generics and constants).
    pub(super) fn resolve_type(&mut self, cx: &mut BodyCtx, t: &ast::Type) -> Option<Ty> {
        match &t.kind {
            ast::TypeKind::Tuple(items) => Some(Ty::Tuple(items.iter().map(|i| self.resolve_type(cx, i)).collect::<Option<Vec<_>>>()?)),
            ast::TypeKind::Tensor { elem, dims } => {
                let e = match Elem::from_name(&elem.name).or_else(|| cx.float_generic(&elem.name)) {
                    Some(e) => e,
                    None => {
                        let mut d = Diagnostic::new(codes::UNKNOWN_TYPE, format!("unknown type `{}`", elem.name), elem.span, "not a type");
                        d = d.with_hint(match super::scope::closest(&elem.name, ["f64", "f32", "i64", "bool"].into_iter()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "the element types are `f64`, `f32`, `i64` and `bool`; a float generic is declared as `[F: float]`".into(),
                        });
                        self.error(d);
                        return None;
                    }
                };
                let mut shape = Vec::new();
                for d in dims.as_deref().unwrap_or(&[]) {
                    match d {
                        ast::Dim::Lit(n, span) => {
                            if *n < 0 {
                                self.error(Diagnostic::new(codes::SHAPE_MISMATCH, format!("a dimension cannot be negative ({n})"), *span, "negative"));
                                return None;
                            }
                            shape.push(*n as usize);
                        }
                        ast::Dim::Rest(name) => match cx.rest_generic(&name.name) {
                            Some(s) => shape.extend(s.clone()),
                            None => {
                                self.error(Diagnostic::new(codes::GENERIC_KIND, format!("`..{}` is not a rest-of-shape variable here", name.name), name.span, "unknown").with_hint(format!("declare it in the generic list: `[..{}]`", name.name)));
                                return None;
                            }
                        },
                        ast::Dim::Name(name) => {
                            let path = ast::Path { segments: vec![name.clone()], span: name.span };
                            let e = ast::Expr { kind: E::Name(path), span: name.span };
                            let v = self.const_int(cx, &e, "a dimension")?;
                            if v < 0 {
                                self.error(Diagnostic::new(codes::SHAPE_MISMATCH, format!("the dimension `{}` is negative ({v})", name.name), name.span, "negative"));
                                return None;
                            }
                            shape.push(v as usize);
                        }
                    }
                }
                let ty = TensorTy::new(e, shape);
                if ty.len() > super::MAX_ELEMENTS {
                    self.error(Diagnostic::new(codes::GRAPH_TOO_LARGE, format!("`{ty}` has {} elements, more than the limit of {}", ty.shape.iter().map(|&d| d as u128).product::<u128>(), super::MAX_ELEMENTS), t.span, "too large"));
                    return None;
                }
                Some(Ty::Tensor(ty))
            }
        }
    }

    /// The value of a `const` item, evaluated on first use.
    /// `use_span` is the reference being resolved (none for the item's own check): a cycle
    /// is reported there, at the use that closes it.
    pub(super) fn const_value(&mut self, c: usize, use_span: Option<Span>) -> Option<ConstValue> {
        match &self.consts[c].state {
            super::ConstState::Done(v) => return v.clone(),
            super::ConstState::InProgress => {
                let name = self.consts[c].name.clone();
                let at = self.consts_in_progress.iter().position(|&x| x == c).unwrap_or(0);
                let path = self.consts_in_progress[at..].iter().chain([&c]).map(|&x| format!("`{}`", self.consts[x].name.name)).collect::<Vec<_>>().join(" → ");
                let message = format!("the constant `{}` is defined in terms of itself: {path}", name.name);
                let d = match use_span {
                    Some(u) => Diagnostic::new(codes::RECURSION, message, u, "this use closes the cycle").with_label(name.span, "defined here"),
                    None => Diagnostic::new(codes::RECURSION, message, name.span, "defined here"),
                };
                self.error(d);
                self.consts[c].state = super::ConstState::Done(None);
                return None;
            }
            super::ConstState::Pending => {}
        }
        self.consts[c].state = super::ConstState::InProgress;
        self.consts_in_progress.push(c);
        let (value, ty, file) = (self.consts[c].value.clone(), self.consts[c].ty.clone(), self.consts[c].file);
        let mut cx = BodyCtx::new(file);
        let result = (|| {
            let mut e = self.expr(&mut cx, &value)?;
            if let Some(t) = &ty {
                let t = self.resolve_type(&mut cx, t)?;
                e = self.expect_ty(e, &t, "the constant's value", None)?;
            }
            match const_eval(&e) {
                Some(v) => Some(v),
                None => {
                    self.error(
                        Diagnostic::new(codes::NOT_CONSTANT, "a `const` must be known at compile time", value.span, "computed at run time")
                            .with_hint("a constant is a number, a `bool`, a tensor literal, or arithmetic of constants"),
                    );
                    None
                }
            }
        })();
        self.consts_in_progress.pop();
        self.consts[c].state = super::ConstState::Done(result.clone());
        result
    }
}

fn t_span(p: &ast::LambdaParam) -> Span {
    p.ty.as_ref().map_or(p.name.span, |t| t.span)
}

/// A type with a batch dimension of `b` in front (tuples batch each part).
fn batch_ty(t: &Ty, b: usize) -> Ty {
    match t {
        Ty::Tensor(t) => Ty::tensor(t.elem, std::iter::once(b).chain(t.shape.iter().copied()).collect()),
        Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(|t| batch_ty(t, b)).collect()),
    }
}

