//! The built-in functions of LANGUAGE.md §6: their argument rules and result types.
//!
//! This is the one table of the language's built-ins as the checker sees them; the IR's
//! op table (a later layer) gives each its evaluation and derivative rules.

use super::consts::ConstValue;
use super::expr::{const_eval, const_expr, mk};
use super::hir::{self, Builtin, ExprKind, RandomDraw, ReduceOp, UnaryFn};
use super::scope::BodyCtx;
use super::types::{broadcast_shapes, broadcasts_to, shape_str, Elem, TensorTy, Ty};
use super::Checker;
use crate::diag::{codes, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind as E};

const UNARY: &[(&str, UnaryFn)] = &[
    ("exp", UnaryFn::Exp), ("log", UnaryFn::Log), ("sin", UnaryFn::Sin), ("cos", UnaryFn::Cos),
    ("tan", UnaryFn::Tan), ("tanh", UnaryFn::Tanh), ("sigmoid", UnaryFn::Sigmoid),
    ("relu", UnaryFn::Relu), ("softplus", UnaryFn::Softplus), ("gelu", UnaryFn::Gelu),
    ("sqrt", UnaryFn::Sqrt), ("abs", UnaryFn::Abs), ("sign", UnaryFn::Sign),
    ("floor", UnaryFn::Floor), ("ceil", UnaryFn::Ceil), ("erf", UnaryFn::Erf),
];

const REDUCTIONS: &[(&str, ReduceOp)] = &[
    ("sum", ReduceOp::Sum), ("mean", ReduceOp::Mean), ("prod", ReduceOp::Prod),
    ("max", ReduceOp::Max), ("min", ReduceOp::Min), ("logsumexp", ReduceOp::LogSumExp),
    ("argmax", ReduceOp::ArgMax), ("all", ReduceOp::All), ("any", ReduceOp::Any),
    ("parity", ReduceOp::Parity),
];

const OTHERS: &[&str] = &[
    "clamp", "pow", "xor", "f64", "f32", "i64", "bool", "reshape", "transpose", "concat", "stack",
    "broadcast", "one_hot", "zeros", "ones", "fill", "range", "shape", "normal", "uniform",
];

/// Whether `name` is a built-in function (users cannot define functions of these names).
pub(super) fn is_builtin(name: &str) -> bool {
    UNARY.iter().any(|(n, _)| *n == name) || REDUCTIONS.iter().any(|(n, _)| *n == name) || OTHERS.contains(&name) || super::calls::TRANSFORMS.contains(&name)
}

/// Every built-in function's name (for did-you-mean hints).
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    UNARY.iter().map(|(n, _)| *n).chain(REDUCTIONS.iter().map(|(n, _)| *n)).chain(OTHERS.iter().copied()).chain(super::calls::TRANSFORMS.iter().copied())
}

/// Built-ins that can be passed where a function is expected: `diff(sin, 3)`.
pub(super) fn is_elementwise_fn(name: &str) -> bool {
    UNARY.iter().any(|(n, _)| *n == name)
}

/// Float-only elementwise functions (the rest take any number).
fn float_only(f: UnaryFn) -> bool {
    !matches!(f, UnaryFn::Abs | UnaryFn::Sign)
}

/// Arguments split into positional ones and named ones.
struct Args<'a> {
    positional: Vec<&'a ast::Expr>,
    named: Vec<(&'a ast::Ident, &'a ast::Expr)>,
}

impl Checker<'_> {
    pub(super) fn builtin_call(&mut self, cx: &mut BodyCtx, name: &ast::Ident, args: &[ast::Arg], span: Span) -> Option<hir::Expr> {
        let a = Args {
            positional: args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect(),
            named: args.iter().filter_map(|a| a.name.as_ref().map(|n| (n, &a.value))).collect(),
        };
        let n = name.name.as_str();
        if UNARY.iter().any(|(u, _)| *u == n) {
            self.arity(name, &a, &[1], &[], span)?;
            let x = self.expr(cx, a.positional[0])?;
            return self.elementwise_builtin(n, x, span);
        }
        if let Some(&(_, op)) = REDUCTIONS.iter().find(|(r, _)| *r == n) {
            if matches!(op, ReduceOp::Max | ReduceOp::Min) && a.positional.len() == 2 {
                self.arity(name, &a, &[2], &[], span)?;
                let b = if op == ReduceOp::Max { Builtin::Max2 } else { Builtin::Min2 };
                return self.broadcast_op(cx, b, n, &a.positional, span, |e| e.is_numeric(), "numbers");
            }
            self.arity(name, &a, &[1], &["axis"], span)?;
            return self.reduction(cx, op, n, &a, span);
        }
        match n {
            "clamp" => {
                self.arity(name, &a, &[3], &[], span)?;
                self.broadcast_op(cx, Builtin::Clamp, n, &a.positional, span, |e| e.is_numeric(), "numbers")
            }
            "pow" => {
                self.arity(name, &a, &[2], &[], span)?;
                self.broadcast_op(cx, Builtin::Pow, n, &a.positional, span, |e| e.is_float() || e == Elem::WeakInt, "floats")
            }
            "xor" => {
                self.arity(name, &a, &[2], &[], span)?;
                self.broadcast_op(cx, Builtin::Xor, n, &a.positional, span, |e| e == Elem::Bool, "`bool` values")
            }
            "f64" | "f32" | "i64" | "bool" => {
                self.arity(name, &a, &[1], &[], span)?;
                let x = self.expr(cx, a.positional[0])?;
                let t = self.tensor_of(&x, "a converted value")?.clone();
                let target = Elem::from_name(n).expect("conversion names are element types");
                let mut x = x;
                if t.elem.is_weak() && t.elem.coerces_to(target) {
                    self.coerce(&mut x, target);
                    return Some(hir::Expr { span, ..x });
                }
                let x = if t.elem.is_weak() { let mut x = x; self.coerce(&mut x, t.elem.defaulted()); x } else { x };
                Some(mk(ExprKind::Convert(Box::new(x)), Ty::tensor(target, t.shape), span))
            }
            "transpose" => {
                self.arity(name, &a, &[1], &[], span)?;
                let x = self.expr(cx, a.positional[0])?;
                self.transpose(x, span)
            }
            "reshape" => {
                self.arity(name, &a, &[2], &[], span)?;
                let x = self.expr(cx, a.positional[0])?;
                let t = self.tensor_of(&x, "the reshaped value")?.clone();
                let shape = self.shape_arg(cx, a.positional[1], Some(t.len()))?;
                let total: usize = shape.iter().product();
                if total != t.len() {
                    self.error(
                        Diagnostic::new(codes::RESHAPE_SIZE, format!("cannot reshape {} ({} elements) into {} ({total} elements)", shape_str(&t.shape), t.len(), shape_str(&shape)), a.positional[1].span, format!("{total} elements"))
                            .with_label(x.span, format!("{} elements", t.len())),
                    );
                    return None;
                }
                Some(mk(ExprKind::Builtin(Builtin::Reshape, vec![x]), Ty::tensor(t.elem, shape), span))
            }
            "broadcast" => {
                self.arity(name, &a, &[2], &[], span)?;
                let x = self.expr(cx, a.positional[0])?;
                let t = self.tensor_of(&x, "the broadcast value")?.clone();
                let shape = self.shape_arg(cx, a.positional[1], None)?;
                if !broadcasts_to(&t.shape, &shape) {
                    self.error(
                        Diagnostic::new(codes::SHAPE_MISMATCH, format!("{} does not broadcast to {}", shape_str(&t.shape), shape_str(&shape)), a.positional[1].span, "target shape")
                            .with_label(x.span, format!("shape {}", shape_str(&t.shape))),
                    );
                    return None;
                }
                Some(mk(ExprKind::Builtin(Builtin::Broadcast, vec![x]), Ty::tensor(t.elem, shape), span))
            }
            "concat" | "stack" => {
                self.arity(name, &a, &[1], &["axis"], span)?;
                self.concat(cx, n == "stack", &a, span)
            }
            "one_hot" => {
                self.arity(name, &a, &[2], &["dtype"], span)?;
                let i = self.expr(cx, a.positional[0])?;
                let it = self.tensor_of(&i, "the indices of `one_hot`")?.clone();
                if !matches!(it.elem, Elem::I64 | Elem::WeakInt) {
                    self.error(
                        Diagnostic::new(codes::TYPE_MISMATCH, format!("`one_hot` needs `i64` indices, found `{it}`"), i.span, "not `i64`")
                            .with_hint(if it.elem.is_float() { "convert with `i64(…)` (after `floor` if needed)" } else { "indices are `i64`" }),
                    );
                    return None;
                }
                let mut i = i;
                self.coerce(&mut i, Elem::I64);
                let k = self.const_int(cx, a.positional[1], "the class count of `one_hot`")?;
                if k <= 0 {
                    self.error(Diagnostic::new(codes::SHAPE_MISMATCH, format!("`one_hot` needs at least one class, found {k}"), a.positional[1].span, "no classes"));
                    return None;
                }
                let elem = self.dtype_arg(&a, Elem::WeakFloat)?;
                let mut shape = it.shape.clone();
                shape.push(k as usize);
                Some(mk(ExprKind::Builtin(Builtin::OneHot, vec![i]), Ty::tensor(elem, shape), span))
            }
            "zeros" | "ones" => {
                self.arity(name, &a, &[1], &["dtype"], span)?;
                let shape = self.shape_arg(cx, a.positional[0], None)?;
                let elem = self.dtype_arg(&a, Elem::WeakFloat)?;
                self.size_ok(&shape, span)?;
                Some(mk(ExprKind::Builtin(Builtin::Fill(if n == "ones" { 1.0 } else { 0.0 }), vec![]), Ty::tensor(elem, shape), span))
            }
            "fill" => {
                self.arity(name, &a, &[2], &["dtype"], span)?;
                let shape = self.shape_arg(cx, a.positional[0], None)?;
                let v = self.expr(cx, a.positional[1])?;
                let Some(x) = const_eval(&v).and_then(|c| c.as_f64()) else {
                    self.error(Diagnostic::new(codes::NOT_CONSTANT, "`fill` needs a constant number", a.positional[1].span, "not a constant").with_hint("for a computed value use `broadcast(v, shape)`"));
                    return None;
                };
                let elem = self.dtype_arg(&a, if v.elem() == Elem::WeakInt { Elem::WeakFloat } else { v.elem() })?;
                self.size_ok(&shape, span)?;
                Some(mk(ExprKind::Builtin(Builtin::Fill(x), vec![]), Ty::tensor(elem, shape), span))
            }
            "range" => {
                self.arity(name, &a, &[1], &["dtype"], span)?;
                let k = self.const_int(cx, a.positional[0], "the length of `range`")?;
                if k < 0 {
                    self.error(Diagnostic::new(codes::SHAPE_MISMATCH, format!("`range` of a negative length ({k})"), a.positional[0].span, "negative"));
                    return None;
                }
                let elem = self.dtype_arg(&a, Elem::WeakFloat)?;
                self.size_ok(&[k as usize], span)?;
                Some(mk(ExprKind::Builtin(Builtin::Range, vec![]), Ty::tensor(elem, vec![k as usize]), span))
            }
            "shape" => {
                self.arity(name, &a, &[1], &[], span)?;
                let x = self.expr(cx, a.positional[0])?;
                let t = self.tensor_of(&x, "the argument of `shape`")?.clone();
                let v = ConstValue::Tensor { elem: Elem::I64, shape: vec![t.rank()], values: t.shape.iter().map(|&d| d as f64).collect() };
                Some(const_expr(&v, span))
            }
            "normal" | "uniform" => self.random_draw(cx, name, &a, span),
            _ => unreachable!("`{n}` is listed as a built-in but has no rule"),
        }
    }

    /// Checks the argument count and the names of named arguments.
    fn arity(&mut self, name: &ast::Ident, a: &Args, counts: &[usize], named: &[&str], span: Span) -> Option<()> {
        if !counts.contains(&a.positional.len()) {
            let want = counts.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" or ");
            self.error(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{}` takes {want} argument{}, given {}", name.name, if want == "1" { "" } else { "s" }, a.positional.len()), span, "wrong number of arguments")
                    .with_hint(usage(&name.name)),
            );
            return None;
        }
        for (n, _) in &a.named {
            if !named.contains(&n.name.as_str()) {
                let mut d = Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{}` has no argument `{}`", name.name, n.name), n.span, "unknown argument");
                d = d.with_hint(if named.is_empty() { usage(&name.name) } else { format!("its named arguments are {}", named.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ")) });
                self.error(d);
                return None;
            }
        }
        Some(())
    }

    /// Applies an elementwise function of one argument.
    pub(super) fn elementwise_builtin(&mut self, name: &str, mut x: hir::Expr, span: Span) -> Option<hir::Expr> {
        let f = UNARY.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).expect("only elementwise names reach here");
        let t = self.tensor_of(&x, "the argument")?.clone();
        let ok = if float_only(f) { t.elem.is_float() || t.elem == Elem::WeakInt } else { t.elem.is_numeric() };
        if !ok {
            let want = if float_only(f) { "a float (`f32` or `f64`)" } else { "a number" };
            let mut d = Diagnostic::new(codes::TYPE_MISMATCH, format!("`{name}` needs {want}, found `{t}`"), x.span, format!("this is `{t}`"));
            if t.elem == Elem::I64 {
                d = d.with_hint("convert it first: `f64(…)`");
            }
            self.error(d);
            return None;
        }
        let elem = if float_only(f) && t.elem == Elem::WeakInt { Elem::WeakFloat } else { t.elem };
        self.coerce(&mut x, elem);
        Some(mk(ExprKind::Builtin(Builtin::Unary(f), vec![x]), Ty::tensor(elem, t.shape), span))
    }

    /// An elementwise built-in of several arguments, with broadcasting.
    #[allow(clippy::too_many_arguments)]
    fn broadcast_op(&mut self, cx: &mut BodyCtx, b: Builtin, name: &str, args: &[&ast::Expr], span: Span, ok: impl Fn(Elem) -> bool, want: &str) -> Option<hir::Expr> {
        let mut xs = args.iter().map(|e| self.expr(cx, e)).collect::<Option<Vec<_>>>()?;
        let mut elem = self.tensor_of(&xs[0], "an argument")?.elem;
        let mut shape = Vec::new();
        for x in &xs {
            let t = self.tensor_of(x, "an argument")?.clone();
            let Some(e) = Elem::unify(elem, t.elem) else {
                self.error(
                    Diagnostic::new(codes::NO_IMPLICIT_CONVERSION, format!("`{name}` of `{}` and `{}`", elem.name(), t.elem.name()), x.span, format!("this is `{t}`"))
                        .with_label(xs[0].span, format!("this is `{}`", xs[0].ty))
                        .with_hint("convert explicitly with `f64(…)`, `f32(…)` or `i64(…)`"),
                );
                return None;
            };
            elem = e;
            shape = match broadcast_shapes(&shape, &t.shape) {
                Some(s) => s,
                None => {
                    let (a, b) = (&xs[0], x);
                    self.shape_conflict(a, b, name, span);
                    return None;
                }
            };
        }
        if b == Builtin::Pow && elem == Elem::WeakInt {
            elem = Elem::WeakFloat;
        }
        if !ok(elem) {
            self.error(Diagnostic::new(codes::TYPE_MISMATCH, format!("`{name}` needs {want}, found `{}`", elem.name()), span, "wrong element type"));
            return None;
        }
        for x in &mut xs {
            self.coerce(x, elem);
        }
        Some(mk(ExprKind::Builtin(b, xs), Ty::tensor(elem, shape), span))
    }

    fn reduction(&mut self, cx: &mut BodyCtx, op: ReduceOp, name: &str, a: &Args, span: Span) -> Option<hir::Expr> {
        let mut x = self.expr(cx, a.positional[0])?;
        let t = self.tensor_of(&x, "a reduced value")?.clone();
        let (ok, want) = match op {
            ReduceOp::All | ReduceOp::Any | ReduceOp::Parity => (t.elem == Elem::Bool, "`bool`"),
            ReduceOp::Mean | ReduceOp::LogSumExp => (t.elem.is_float() || t.elem == Elem::WeakInt, "floats"),
            _ => (t.elem.is_numeric(), "numbers"),
        };
        if !ok {
            self.error(Diagnostic::new(codes::TYPE_MISMATCH, format!("`{name}` needs {want}, found `{t}`"), x.span, format!("this is `{t}`")));
            return None;
        }
        let axis = match a.named.first() {
            Some((_, e)) => Some(self.axis(cx, e, t.rank())?),
            None => None,
        };
        let elem = match op {
            ReduceOp::ArgMax => Elem::I64,
            ReduceOp::Mean | ReduceOp::LogSumExp if t.elem == Elem::WeakInt => Elem::WeakFloat,
            _ => t.elem,
        };
        if op != ReduceOp::ArgMax {
            self.coerce(&mut x, elem);
        }
        if t.is_empty() && matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax) {
            self.error(Diagnostic::new(codes::SHAPE_MISMATCH, format!("`{name}` of an empty tensor"), x.span, "no elements"));
            return None;
        }
        let shape = match axis {
            Some(k) => {
                let mut s = t.shape.clone();
                s.remove(k);
                s
            }
            None => Vec::new(),
        };
        Some(mk(ExprKind::Builtin(Builtin::Reduce { op, axis }, vec![x]), Ty::tensor(elem, shape), span))
    }

    /// A compile-time axis of a value of rank `rank`; negative counts from the end.
    pub(super) fn axis(&mut self, cx: &mut BodyCtx, e: &ast::Expr, rank: usize) -> Option<usize> {
        let k = self.const_int(cx, e, "an axis")?;
        let r = if k < 0 { k + rank as i64 } else { k };
        if r < 0 || r >= rank as i64 {
            self.error(
                Diagnostic::new(codes::BAD_AXIS, format!("axis {k} is out of range for a value of rank {rank}"), e.span, "no such axis")
                    .with_hint(if rank == 0 { "a scalar has no axes".to_string() } else { format!("axes are 0 to {} (or -1 to -{rank} from the end)", rank - 1) }),
            );
            return None;
        }
        Some(r as usize)
    }

    /// A shape argument: a compile-time list of non-negative integers (one `-1` may stand
    /// for the rest when `total` is known, as in `reshape`).
    fn shape_arg(&mut self, cx: &mut BodyCtx, e: &ast::Expr, total: Option<usize>) -> Option<Vec<usize>> {
        let v = self.expr(cx, e)?;
        let dims: Vec<i64> = match const_eval(&v) {
            Some(ConstValue::Tensor { elem: Elem::I64 | Elem::WeakInt, shape, values }) if shape.len() == 1 => values.iter().map(|&x| x as i64).collect(),
            Some(ConstValue::Int(i)) => vec![i],
            _ => {
                self.error(
                    Diagnostic::new(codes::NOT_CONSTANT, "a shape must be a list of integers known at compile time", e.span, "not a constant shape")
                        .with_hint("write it as `[2, N]` with literals, constants and shape variables"),
                );
                return None;
            }
        };
        let inferred = dims.iter().filter(|&&d| d == -1).count();
        if dims.iter().any(|&d| d < -1) || inferred > usize::from(total.is_some()) {
            self.error(Diagnostic::new(codes::SHAPE_MISMATCH, format!("invalid shape {dims:?}"), e.span, "dimensions must be ≥ 0").with_hint(if total.is_some() { "one `-1` may stand for the remaining size" } else { "dimensions are non-negative integers" }));
            return None;
        }
        let known: usize = dims.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
        let shape = dims
            .iter()
            .map(|&d| if d == -1 { total.unwrap_or(0).checked_div(known).unwrap_or(0) } else { d as usize })
            .collect::<Vec<_>>();
        self.size_ok(&shape, e.span)?;
        Some(shape)
    }

    fn size_ok(&mut self, shape: &[usize], span: Span) -> Option<()> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n.is_none_or(|n| n > super::MAX_ELEMENTS) {
            self.error(Diagnostic::new(codes::GRAPH_TOO_LARGE, format!("a tensor of shape {} would have more than {} elements", shape_str(shape), super::MAX_ELEMENTS), span, "too large").with_hint("the machine cannot hold it"));
            return None;
        }
        Some(())
    }

    /// The `dtype = f32` argument, or `default`.
    fn dtype_arg(&mut self, a: &Args, default: Elem) -> Option<Elem> {
        let Some((_, e)) = a.named.iter().find(|(n, _)| n.name == "dtype") else { return Some(default) };
        if let E::Name(p) = &e.kind {
            if let Some(elem) = Elem::from_name(&p.segments[0].name) {
                return Some(elem);
            }
        }
        self.error(Diagnostic::new(codes::UNKNOWN_TYPE, "`dtype` must be `f64`, `f32`, `i64` or `bool`", e.span, "not an element type"));
        None
    }

    fn concat(&mut self, cx: &mut BodyCtx, stack: bool, a: &Args, span: Span) -> Option<hir::Expr> {
        let what = if stack { "stack" } else { "concat" };
        let E::TensorLit(items) = &a.positional[0].kind else {
            self.error(
                Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{what}` takes a list of tensors: `{what}([a, b], axis = 0)`"), a.positional[0].span, "not a list")
                    .with_hint("write the tensors in square brackets"),
            );
            return None;
        };
        let mut xs = items.iter().map(|i| self.expr(cx, i)).collect::<Option<Vec<_>>>()?;
        if xs.is_empty() {
            self.error(Diagnostic::new(codes::BAD_ARGUMENTS, format!("`{what}` of an empty list"), a.positional[0].span, "no tensors"));
            return None;
        }
        let first = self.tensor_of(&xs[0], "a part")?.clone();
        let rank = first.rank() + usize::from(stack);
        let axis = match a.named.first() {
            Some((_, e)) => self.axis(cx, e, rank)?,
            None => 0,
        };
        let mut elem = first.elem;
        let mut total = 0;
        for x in &xs {
            let t = self.tensor_of(x, "a part")?.clone();
            let same = if stack {
                t.shape == first.shape
            } else {
                t.rank() == first.rank() && t.shape.iter().zip(&first.shape).enumerate().all(|(i, (p, q))| i == axis || p == q)
            };
            if !same {
                let rule = if stack { "the same shape" } else { "the same shape except along the axis" };
                self.error(
                    Diagnostic::new(codes::SHAPE_MISMATCH, format!("`{what}` parts need {rule}: {} and {}", shape_str(&first.shape), shape_str(&t.shape)), x.span, format!("shape {}", shape_str(&t.shape)))
                        .with_label(xs[0].span, format!("shape {}", shape_str(&first.shape))),
                );
                return None;
            }
            elem = match Elem::unify(elem, t.elem) {
                Some(e) => e,
                None => {
                    self.error(Diagnostic::new(codes::NO_IMPLICIT_CONVERSION, format!("`{what}` of `{}` and `{}`", elem.name(), t.elem.name()), x.span, format!("this is `{t}`")));
                    return None;
                }
            };
            total += if stack { 1 } else { t.shape[axis] };
        }
        for x in &mut xs {
            self.coerce(x, elem);
        }
        let mut shape = first.shape.clone();
        if stack {
            shape.insert(axis, total);
        } else {
            shape[axis] = total;
        }
        let b = if stack { Builtin::Stack { axis } } else { Builtin::Concat { axis } };
        Some(mk(ExprKind::Builtin(b, xs), Ty::tensor(elem, shape), span))
    }

    /// `normal(shape, mean, std)` / `uniform(shape, lo, hi)`: fresh draws at every step,
    /// allowed only in the arguments of `train`.
    fn random_draw(&mut self, cx: &mut BodyCtx, name: &ast::Ident, a: &Args, span: Span) -> Option<hir::Expr> {
        if !cx.allow_random {
            self.error(
                Diagnostic::new(codes::BAD_STATEMENT, format!("`{}` draws random numbers, which only the arguments of `train` may do", name.name), span, "random draw here")
                    .with_hint(format!("for a fixed random data set declare `data d = {}(…, seed = 1);`", name.name)),
            );
            return None;
        }
        let uniform = name.name == "uniform";
        let names: &[&str] = if uniform { &["lo", "hi"] } else { &["mean", "std"] };
        self.arity(name, a, &[1, 2, 3], names, span)?;
        let shape = self.shape_arg(cx, a.positional[0], None)?;
        // Both default to the unit distribution: U(0, 1) and N(0, 1).
        let mut vals = [0.0, 1.0];
        for (i, e) in a.positional.iter().skip(1).enumerate() {
            vals[i] = self.const_f64(cx, e)?;
        }
        for (n, e) in &a.named {
            let i = names.iter().position(|x| *x == n.name).expect("arity checked names");
            vals[i] = self.const_f64(cx, e)?;
        }
        let draw = if uniform { RandomDraw::Uniform { lo: vals[0], hi: vals[1] } } else { RandomDraw::Normal { mean: vals[0], std: vals[1] } };
        Some(mk(ExprKind::Random(draw), Ty::Tensor(TensorTy::new(Elem::WeakFloat, shape)), span))
    }

    pub(super) fn const_f64(&mut self, cx: &mut BodyCtx, e: &ast::Expr) -> Option<f64> {
        let v = self.expr(cx, e)?;
        match const_eval(&v).and_then(|c| c.as_f64()) {
            Some(x) => Some(x),
            None => {
                self.error(Diagnostic::new(codes::NOT_CONSTANT, "this must be a number known at compile time", e.span, "not a constant number"));
                None
            }
        }
    }
}

/// How a built-in is called, for hints.
fn usage(name: &str) -> String {
    let u = match name {
        "clamp" => "clamp(x, lo, hi)",
        "pow" => "pow(x, y)",
        "xor" => "xor(a, b)",
        "reshape" => "reshape(x, [a, b])",
        "broadcast" => "broadcast(x, [a, b])",
        "concat" => "concat([a, b], axis = 0)",
        "stack" => "stack([a, b], axis = 0)",
        "one_hot" => "one_hot(i, n)",
        "zeros" | "ones" => return format!("`{name}([a, b])`, optionally with `dtype = f32`"),
        "fill" => "fill([a, b], v)",
        "range" => "range(n)",
        "max" | "min" => return format!("`{name}(x)` or `{name}(x, axis = k)` reduces; `{name}(a, b)` is elementwise"),
        "normal" => "normal([n, d], mean, std)",
        "uniform" => "uniform([n, d], lo, hi)",
        n if REDUCTIONS.iter().any(|(r, _)| *r == n) => return format!("`{n}(x)` or `{n}(x, axis = k)`"),
        n => return format!("`{n}(x)`"),
    };
    format!("`{u}`")
}
