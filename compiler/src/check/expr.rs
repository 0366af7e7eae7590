//! Expressions and blocks: names, operators, literals, indexing, `if`, `let`, `for`.
//!
//! Each `expr` call returns `None` after reporting an error, and callers stay silent on
//! `None`, so one mistake gives one diagnostic.

use super::consts::ConstValue;
use super::hir::{self, BlockStmt, ExprKind, Literal, Pattern, Subscript};
use super::scope::{BodyCtx, Binding};
use super::types::{broadcast_shapes, shape_str, Elem, TensorTy, Ty};
use super::{Checker, Global};
use crate::diag::{codes, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, BinOp, ExprKind as E, UnOp};

pub(super) fn mk(kind: ExprKind, ty: Ty, span: Span) -> hir::Expr {
    hir::Expr { kind, ty, span }
}

/// A literal expression for a compile-time value.
pub(super) fn const_expr(v: &ConstValue, span: Span) -> hir::Expr {
    match v {
        ConstValue::Int(i) => mk(ExprKind::Literal(Literal::Int(*i)), v.ty(), span),
        ConstValue::Float(x) => mk(ExprKind::Literal(Literal::Float(*x)), v.ty(), span),
        ConstValue::Bool(b) => mk(ExprKind::Literal(Literal::Bool(*b)), v.ty(), span),
        ConstValue::Tensor { elem, shape, values } => tensor_const(*elem, shape, values, span),
    }
}

fn tensor_const(elem: Elem, shape: &[usize], values: &[f64], span: Span) -> hir::Expr {
    let ty = Ty::tensor(elem, shape.to_vec());
    if shape.is_empty() {
        let lit = match elem {
            Elem::Bool => Literal::Bool(values[0] != 0.0),
            Elem::I64 | Elem::WeakInt => Literal::Int(values[0] as i64),
            _ => Literal::Float(values[0]),
        };
        return mk(ExprKind::Literal(lit), ty, span);
    }
    let inner = shape[1..].iter().product::<usize>();
    let rows = (0..shape[0]).map(|r| tensor_const(elem, &shape[1..], &values[r * inner..(r + 1) * inner], span)).collect();
    mk(ExprKind::Tensor(rows), ty, span)
}

/// Evaluates a checked expression at compile time, if it is made of constants only.
pub(super) fn const_eval(e: &hir::Expr) -> Option<ConstValue> {
    Some(match &e.kind {
        ExprKind::Literal(Literal::Int(i)) => ConstValue::Int(*i),
        ExprKind::Literal(Literal::Float(x)) => ConstValue::Float(*x),
        ExprKind::Literal(Literal::Bool(b)) => ConstValue::Bool(*b),
        ExprKind::Unary(UnOp::Neg, a) => match const_eval(a)? {
            ConstValue::Int(i) => ConstValue::Int(i.checked_neg()?),
            ConstValue::Float(x) => ConstValue::Float(-x),
            _ => return None,
        },
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (const_eval(a)?, const_eval(b)?);
            match (a, b) {
                (ConstValue::Int(a), ConstValue::Int(b)) => ConstValue::Int(match op {
                    BinOp::Add => a.checked_add(b)?,
                    BinOp::Sub => a.checked_sub(b)?,
                    BinOp::Mul => a.checked_mul(b)?,
                    BinOp::Div => a.checked_div(b)?,
                    BinOp::Rem => a.checked_rem(b)?,
                    _ => return None,
                }),
                (a, b) => {
                    let (x, y) = (a.as_f64()?, b.as_f64()?);
                    ConstValue::Float(match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        BinOp::Mul => x * y,
                        BinOp::Div => x / y,
                        BinOp::Pow => x.powf(y),
                        _ => return None,
                    })
                }
            }
        }
        ExprKind::PowInt(a, n) => ConstValue::Float(const_eval(a)?.as_f64()?.powi(i32::try_from(*n).ok()?)),
        ExprKind::Convert(a) => {
            let v = const_eval(a)?;
            match e.elem() {
                Elem::I64 => ConstValue::Int(v.as_f64()? as i64),
                Elem::F64 | Elem::F32 => ConstValue::Float(v.as_f64()?),
                _ => return None,
            }
        }
        ExprKind::Tensor(items) => {
            let t = e.ty.as_tensor()?;
            let mut values = Vec::with_capacity(t.len());
            for item in items {
                match const_eval(item)? {
                    ConstValue::Tensor { values: v, .. } => values.extend(v),
                    ConstValue::Bool(b) => values.push(f64::from(u8::from(b))),
                    v => values.push(v.as_f64()?),
                }
            }
            ConstValue::Tensor { elem: t.elem, shape: t.shape.clone(), values }
        }
        _ => return None,
    })
}

impl Checker<'_> {
    /// Checks an expression that must be a value (not a function).
    pub(super) fn expr(&mut self, cx: &mut BodyCtx, e: &ast::Expr) -> Option<hir::Expr> {
        let span = e.span;
        match &e.kind {
            E::Int(i) => Some(mk(ExprKind::Literal(Literal::Int(*i)), Ty::scalar(Elem::WeakInt), span)),
            E::Float(x) => Some(mk(ExprKind::Literal(Literal::Float(*x)), Ty::scalar(Elem::WeakFloat), span)),
            E::Bool(b) => Some(mk(ExprKind::Literal(Literal::Bool(*b)), Ty::scalar(Elem::Bool), span)),
            E::Str(_) => {
                self.error(
                    Diagnostic::new(codes::TYPE_MISMATCH, "a string is not a value", span, "strings are only for labels, paths and options")
                        .with_hint("strings may appear in `print`, in paths (`csv(\"…\")`, `save \"…\"`) and in `train` options"),
                );
                None
            }
            E::Name(path) => self.name_expr(cx, path),
            E::Paren(inner) => self.expr(cx, inner),
            E::Unary(op, a) => self.unary(cx, *op, a, span),
            E::Binary(op, a, b) => self.binary(cx, *op, a, b, span),
            E::Call { callee, args } => self.call(cx, callee, args, span),
            E::Index { base, subscripts } => self.index(cx, base, subscripts, span),
            E::Transpose(a) => {
                let a = self.expr(cx, a)?;
                self.transpose(a, span)
            }
            E::Tuple(items) => {
                let items = items.iter().map(|i| self.expr(cx, i)).collect::<Option<Vec<_>>>()?;
                let ty = Ty::Tuple(items.iter().map(|i| i.ty.clone()).collect());
                Some(mk(ExprKind::Tuple(items), ty, span))
            }
            E::TensorLit(items) => self.tensor_literal(cx, items, span),
            E::If { cond, then, otherwise } => self.if_expr(cx, cond, then, otherwise, span),
            E::Block(block) => {
                cx.push_scope();
                let r = self.block(cx, block);
                cx.pop_scope();
                r
            }
            E::Lambda { .. } => {
                self.error(
                    Diagnostic::new(codes::NOT_A_VALUE, "a lambda is a function, not a value", span, "used as a value here")
                        .with_hint("call it, `(|x| x * x)(2.0)`, or pass it to a derivative operator"),
                );
                None
            }
            E::Error => None,
        }
    }

    fn name_expr(&mut self, cx: &mut BodyCtx, path: &ast::Path) -> Option<hir::Expr> {
        let span = path.span;
        let not_value = |me: &mut Self, what: &str| {
            me.error(
                Diagnostic::new(codes::NOT_A_VALUE, format!("`{}` is a {what}, not a value", me.sources.snippet(span)), span, "used as a value here")
                    .with_hint("call it with arguments, or pass it to a derivative operator such as `grad`"),
            );
            None
        };
        if path.segments.len() == 1 {
            let name = &path.segments[0];
            match cx.lookup(&name.name) {
                Some(Binding::Value { id, .. }) => {
                    let id = *id;
                    return Some(mk(ExprKind::Local(id), cx.local_ty(id).clone(), span));
                }
                Some(Binding::Const(v)) => return Some(const_expr(v, span)),
                Some(Binding::LoopVar { value, .. }) => return Some(mk(ExprKind::Literal(Literal::Int(*value)), Ty::scalar(Elem::I64), span)),
                Some(Binding::Fn(_)) => return not_value(self, "function"),
                Some(Binding::Poisoned) => return None,
                None => {}
            }
        }
        let global = if path.segments.len() == 1 {
            self.lookup_global(cx.file, &path.segments[0])
        } else {
            match self.lookup_qualified(cx.file, path) {
                Some(g) => Some(g),
                None => return None,
            }
        };
        match global {
            Some(Global::Const(c)) => {
                let v = self.const_value(c, Some(span))?;
                Some(const_expr(&v, span))
            }
            Some(Global::Param(p)) if self.broken_params.contains(&p) => None,
            Some(Global::Param(p)) => {
                let ty = Ty::Tensor(self.program.params[p.index()].ty.clone());
                Some(mk(ExprKind::Param(p), ty, span))
            }
            Some(Global::Data(d)) => {
                let ty = Ty::Tensor(self.program.data[d.index()].ty.clone());
                Some(mk(ExprKind::Data(d), ty, span))
            }
            Some(Global::Fn(_) | Global::Derived(_)) => not_value(self, "function"),
            None => {
                let name = &path.segments[0];
                if super::builtins::is_builtin(&name.name) {
                    return not_value(self, "built-in function");
                }
                self.unknown_name(cx, name);
                None
            }
        }
    }

    pub(super) fn unknown_name(&mut self, cx: &BodyCtx, name: &ast::Ident) {
        let mut candidates: Vec<String> = cx.visible_names().map(str::to_string).collect();
        candidates.extend(self.files[cx.file].own.keys().cloned());
        for (_, idx, _) in &self.files[cx.file].uses {
            candidates.extend(self.files[*idx].own.keys().cloned());
        }
        candidates.extend(super::builtins::names().map(str::to_string));
        let mut d = Diagnostic::new(codes::UNKNOWN_NAME, format!("unknown name `{}`", name.name), name.span, "not defined");
        if let Some(s) = super::scope::closest(&name.name, candidates.iter().map(String::as_str)) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        } else if ["softmax", "log_softmax", "dense", "layer_norm"].contains(&name.name.as_str()) {
            d = d.with_hint(format!("`{}` is in the standard library: add `use nn;`", name.name));
        } else if ["mse", "cross_entropy", "binary_cross_entropy", "huber", "hinge"].contains(&name.name.as_str()) {
            d = d.with_hint(format!("`{}` is in the standard library: add `use loss;`", name.name));
        }
        self.error(d);
    }

    fn unary(&mut self, cx: &mut BodyCtx, op: UnOp, a: &ast::Expr, span: Span) -> Option<hir::Expr> {
        let a = self.expr(cx, a)?;
        let t = self.tensor_of(&a, "an operand")?.clone();
        let ok = match op {
            UnOp::Neg => t.elem.is_numeric(),
            UnOp::Not => t.elem == Elem::Bool,
        };
        if !ok {
            let (sym, want) = if op == UnOp::Neg { ("-", "a number") } else { ("!", "`bool`") };
            self.error(Diagnostic::new(codes::BAD_OPERAND, format!("`{sym}` needs {want}, found `{t}`"), a.span, format!("this is `{t}`")));
            return None;
        }
        Some(mk(ExprKind::Unary(op, Box::new(a)), Ty::Tensor(t), span))
    }

    /// The tensor type of a value, or an error if it is a tuple.
    pub(super) fn tensor_of<'e>(&mut self, e: &'e hir::Expr, what: &str) -> Option<&'e TensorTy> {
        match &e.ty {
            Ty::Tensor(t) => Some(t),
            Ty::Tuple(_) => {
                self.error(
                    Diagnostic::new(codes::TYPE_MISMATCH, format!("{what} must be a tensor, found the tuple `{}`", e.ty), e.span, "a tuple")
                        .with_hint("destructure it first: `let (a, b) = …;`"),
                );
                None
            }
        }
    }

    fn binary(&mut self, cx: &mut BodyCtx, op: BinOp, a: &ast::Expr, b: &ast::Expr, span: Span) -> Option<hir::Expr> {
        let lhs = self.expr(cx, a);
        let rhs = self.expr(cx, b);
        let (lhs, rhs) = (lhs?, rhs?);
        self.binary_checked(op, lhs, rhs, span)
    }

    pub(super) fn binary_checked(&mut self, op: BinOp, mut lhs: hir::Expr, mut rhs: hir::Expr, span: Span) -> Option<hir::Expr> {
        let lt = self.tensor_of(&lhs, "an operand")?.clone();
        let rt = self.tensor_of(&rhs, "an operand")?.clone();
        if op == BinOp::Pow {
            if let Some(ConstValue::Int(n)) = const_eval(&rhs) {
                // `x ^ n`: exact repeated multiplication, defined at x = 0 with its derivatives.
                if !lt.elem.is_numeric() || lt.elem == Elem::I64 {
                    return self.bad_operand(op, &lhs, &lt, "a float");
                }
                let elem = if lt.elem == Elem::WeakInt { Elem::WeakFloat } else { lt.elem };
                self.coerce(&mut lhs, elem);
                return Some(mk(ExprKind::PowInt(Box::new(lhs), n), Ty::tensor(elem, lt.shape), span));
            }
        }
        let Some(elem) = Elem::unify(lt.elem, rt.elem) else {
            self.error(
                Diagnostic::new(
                    codes::NO_IMPLICIT_CONVERSION,
                    format!("`{}` between `{}` and `{}`", op.symbol(), lt.elem.name(), rt.elem.name()),
                    span,
                    "mixed element types",
                )
                .with_label(lhs.span, format!("this is `{lt}`"))
                .with_label(rhs.span, format!("this is `{rt}`"))
                .with_hint(format!("convert one side explicitly, e.g. `{}(…)`", lt.elem.defaulted().name())),
            );
            return None;
        };
        let elem = if op == BinOp::Pow && elem == Elem::WeakInt { Elem::WeakFloat } else { elem };
        let operand_ok = match op {
            BinOp::Or | BinOp::And => elem == Elem::Bool,
            BinOp::Eq | BinOp::Ne => true,
            BinOp::Pow => elem.is_float(),
            _ => elem.is_numeric(),
        };
        if !operand_ok {
            let want = match op {
                BinOp::Or | BinOp::And => "`bool`",
                BinOp::Pow => "floats",
                _ => "numbers",
            };
            let mut d = Diagnostic::new(codes::BAD_OPERAND, format!("`{}` needs {want}, found `{}`", op.symbol(), elem.name()), lhs.span, format!("this is `{}`", lhs.ty));
            if op == BinOp::Pow && elem == Elem::I64 {
                d = d.with_hint("`^` is defined on floats: convert with `f64(…)`");
            }
            self.error(d);
            return None;
        }
        self.coerce(&mut lhs, elem);
        self.coerce(&mut rhs, elem);
        let shape = if op == BinOp::MatMul {
            if !elem.is_numeric() {
                return self.bad_operand(op, &lhs, &lt, "numbers");
            }
            self.matmul_shape(&lhs, &rhs, &lt.shape, &rt.shape, span)?
        } else {
            match broadcast_shapes(&lt.shape, &rt.shape) {
                Some(s) => s,
                None => {
                    self.shape_conflict(&lhs, &rhs, op.symbol(), span);
                    return None;
                }
            }
        };
        let out = if op.is_comparison() { Elem::Bool } else { elem };
        Some(mk(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), Ty::tensor(out, shape), span))
    }

    fn bad_operand(&mut self, op: BinOp, e: &hir::Expr, t: &TensorTy, want: &str) -> Option<hir::Expr> {
        let mut d = Diagnostic::new(codes::BAD_OPERAND, format!("`{}` needs {want}, found `{}`", op.symbol(), t.elem.name()), e.span, format!("this is `{t}`"));
        if op == BinOp::Pow && t.elem == Elem::I64 {
            d = d.with_hint("`^` is defined on floats: convert with `f64(…)`");
        }
        self.error(d);
        None
    }

    pub(super) fn shape_conflict(&mut self, a: &hir::Expr, b: &hir::Expr, what: &str, span: Span) {
        let (sa, sb) = (shape_of(&a.ty), shape_of(&b.ty));
        self.error(
            Diagnostic::new(codes::SHAPE_MISMATCH, format!("shapes {sa} and {sb} do not broadcast in `{what}`"), span, "in this operation")
                .with_label(a.span, format!("this has shape {sa}"))
                .with_label(b.span, format!("this has shape {sb}"))
                .with_hint("dimensions must be equal or 1, aligned from the right (NumPy broadcasting); `reshape` or index to make them fit"),
        );
    }

    fn matmul_shape(&mut self, lhs: &hir::Expr, rhs: &hir::Expr, a: &[usize], b: &[usize], span: Span) -> Option<Vec<usize>> {
        if a.is_empty() || b.is_empty() {
            let which = if a.is_empty() { lhs } else { rhs };
            self.error(
                Diagnostic::new(codes::MATMUL_SHAPE, "`@` needs vectors or matrices, found a scalar", which.span, "a scalar")
                    .with_hint("multiply scalars with `*`"),
            );
            return None;
        }
        let k_a = a[a.len() - 1];
        let k_b = if b.len() == 1 { b[0] } else { b[b.len() - 2] };
        if k_a != k_b {
            self.error(
                Diagnostic::new(codes::MATMUL_SHAPE, format!("`@` of {} and {}: inner dimensions {k_a} and {k_b} differ", shape_str(a), shape_str(b)), span, "in this product")
                    .with_label(lhs.span, format!("has shape {}, contracting {k_a}", shape_str(a)))
                    .with_label(rhs.span, format!("has shape {}, contracting {k_b}", shape_str(b)))
                    .with_hint("the last dimension of the left side must equal the first (for a vector) or second-to-last dimension of the right side; `.T` transposes"),
            );
            return None;
        }
        let (ba, bb) = (&a[..a.len().saturating_sub(2)], if b.len() > 2 { &b[..b.len() - 2] } else { &[][..] });
        let Some(batch) = broadcast_shapes(ba, bb) else {
            self.shape_conflict(lhs, rhs, "@", span);
            return None;
        };
        let mut out = batch;
        if a.len() >= 2 {
            out.push(a[a.len() - 2]);
        }
        if b.len() >= 2 {
            out.push(b[b.len() - 1]);
        }
        Some(out)
    }

    /// Turns weak element types inside `e` into `elem`, where `e`'s type is weak.
    pub(super) fn coerce(&mut self, e: &mut hir::Expr, elem: Elem) {
        coerce(e, elem);
    }

    /// Checks that `e` fits the type `want` (weak elements coerce), reporting `what` otherwise.
    pub(super) fn expect_ty(&mut self, mut e: hir::Expr, want: &Ty, what: &str, other: Option<Span>) -> Option<hir::Expr> {
        if e.ty.coerces_to(want) {
            coerce_ty(&mut e, want);
            return Some(e);
        }
        let code = match (&e.ty, want) {
            (Ty::Tensor(a), Ty::Tensor(b)) if a.shape != b.shape && a.elem.coerces_to(b.elem) => codes::SHAPE_MISMATCH,
            (Ty::Tensor(a), Ty::Tensor(b)) if a.shape == b.shape && a.elem.is_numeric() && b.elem.is_numeric() => codes::NO_IMPLICIT_CONVERSION,
            _ => codes::TYPE_MISMATCH,
        };
        let mut d = Diagnostic::new(code, format!("{what}: expected `{want}`, found `{}`", e.ty), e.span, format!("this is `{}`", e.ty));
        if let Some(o) = other {
            d = d.with_label(o, format!("`{want}` expected because of this"));
        }
        if code == codes::NO_IMPLICIT_CONVERSION {
            if let Ty::Tensor(b) = want {
                d = d.with_hint(format!("convert explicitly: `{}(…)`", b.elem.name()));
            }
        }
        self.error(d);
        None
    }

    fn tensor_literal(&mut self, cx: &mut BodyCtx, items: &[ast::Expr], span: Span) -> Option<hir::Expr> {
        if items.is_empty() {
            self.error(
                Diagnostic::new(codes::TYPE_MISMATCH, "an empty tensor literal has no type", span, "empty")
                    .with_hint("use `zeros([0])` for an empty tensor"),
            );
            return None;
        }
        let checked = items.iter().map(|i| self.expr(cx, i)).collect::<Option<Vec<_>>>()?;
        self.tensor_of_items(checked, span)
    }

    /// A tensor literal from its checked items (at least one): they must have one shape and
    /// element types that unify.
    pub(super) fn tensor_of_items(&mut self, mut checked: Vec<hir::Expr>, span: Span) -> Option<hir::Expr> {
        let first = self.tensor_of(&checked[0], "an element of a tensor literal")?.clone();
        let mut elem = first.elem;
        for item in &checked[1..] {
            let t = self.tensor_of(item, "an element of a tensor literal")?.clone();
            if t.shape != first.shape {
                self.error(
                    Diagnostic::new(codes::RAGGED_LITERAL, format!("tensor literal rows have shapes {} and {}", shape_str(&first.shape), shape_str(&t.shape)), item.span, format!("shape {}", shape_str(&t.shape)))
                        .with_label(checked[0].span, format!("shape {}", shape_str(&first.shape)))
                        .with_hint("every element of a tensor literal must have the same shape"),
                );
                return None;
            }
            match Elem::unify(elem, t.elem) {
                Some(e) => elem = e,
                None => {
                    self.error(
                        Diagnostic::new(codes::NO_IMPLICIT_CONVERSION, format!("tensor literal mixes `{}` and `{}`", elem.name(), t.elem.name()), item.span, format!("this is `{}`", t.elem.name()))
                            .with_label(checked[0].span, format!("this is `{}`", first.elem.name())),
                    );
                    return None;
                }
            }
        }
        for item in &mut checked {
            coerce(item, elem);
        }
        let mut shape = vec![checked.len()];
        shape.extend(&first.shape);
        Some(mk(ExprKind::Tensor(checked), Ty::tensor(elem, shape), span))
    }

    fn if_expr(&mut self, cx: &mut BodyCtx, cond: &ast::Expr, then: &ast::Block, otherwise: &ast::Expr, span: Span) -> Option<hir::Expr> {
        let cond = self.expr(cx, cond);
        cx.push_scope();
        let a = self.block(cx, then);
        cx.pop_scope();
        let b = self.expr(cx, otherwise);
        let (cond, mut a, mut b) = (cond?, a?, b?);
        let ct = self.tensor_of(&cond, "an `if` condition")?.clone();
        if ct.elem != Elem::Bool {
            self.error(
                Diagnostic::new(codes::NOT_BOOL, format!("an `if` condition must be `bool`, found `{ct}`"), cond.span, "not a `bool`")
                    .with_hint("compare it, e.g. `x > 0`"),
            );
            return None;
        }
        if ct.is_scalar() {
            if a.ty.coerces_to(&b.ty) {
                let t = b.ty.clone();
                coerce_ty(&mut a, &t);
            } else if b.ty.coerces_to(&a.ty) {
                let t = a.ty.clone();
                coerce_ty(&mut b, &t);
            } else {
                self.error(
                    Diagnostic::new(codes::TYPE_MISMATCH, format!("`if` branches have types `{}` and `{}`", a.ty, b.ty), span, "branches differ")
                        .with_label(a.span, format!("this is `{}`", a.ty))
                        .with_label(b.span, format!("this is `{}`", b.ty))
                        .with_hint("both branches must have the same type"),
                );
                return None;
            }
            let ty = a.ty.clone();
            return Some(mk(ExprKind::If(Box::new(cond), Box::new(a), Box::new(b)), ty, span));
        }
        // A tensor condition selects elementwise, like NumPy's `where`.
        let at = self.tensor_of(&a, "an `if` branch")?.clone();
        let bt = self.tensor_of(&b, "an `if` branch")?.clone();
        let Some(elem) = Elem::unify(at.elem, bt.elem) else {
            self.error(
                Diagnostic::new(codes::NO_IMPLICIT_CONVERSION, format!("`if` branches have types `{at}` and `{bt}`"), span, "branches differ")
                    .with_label(a.span, format!("this is `{at}`"))
                    .with_label(b.span, format!("this is `{bt}`")),
            );
            return None;
        };
        let Some(shape) = broadcast_shapes(&at.shape, &bt.shape).and_then(|s| broadcast_shapes(&s, &ct.shape)) else {
            self.error(
                Diagnostic::new(codes::SHAPE_MISMATCH, format!("an elementwise `if` needs its condition and branches to broadcast: {}, {} and {}", shape_str(&ct.shape), shape_str(&at.shape), shape_str(&bt.shape)), span, "in this `if`")
                    .with_label(cond.span, format!("condition of shape {}", shape_str(&ct.shape)))
                    .with_label(a.span, format!("shape {}", shape_str(&at.shape)))
                    .with_label(b.span, format!("shape {}", shape_str(&bt.shape))),
            );
            return None;
        };
        coerce(&mut a, elem);
        coerce(&mut b, elem);
        Some(mk(ExprKind::If(Box::new(cond), Box::new(a), Box::new(b)), Ty::tensor(elem, shape), span))
    }

    /// Checks a block in the current scope (callers push and pop it).
    pub(super) fn block(&mut self, cx: &mut BodyCtx, block: &ast::Block) -> Option<hir::Expr> {
        let stmts = self.stmts(cx, &block.stmts);
        let value = match &block.value {
            Some(v) => self.expr(cx, v),
            None => {
                self.error(Diagnostic::new(codes::TYPE_MISMATCH, "this block has no value", block.span, "ends without an expression").with_hint("end the block with the expression that is its value"));
                None
            }
        };
        let (stmts, value) = (stmts?, value?);
        if stmts.is_empty() {
            return Some(value);
        }
        let ty = value.ty.clone();
        Some(mk(ExprKind::Block(stmts, Box::new(value)), ty, block.span))
    }

    fn stmts(&mut self, cx: &mut BodyCtx, stmts: &[ast::Stmt]) -> Option<Vec<BlockStmt>> {
        let mut out = Vec::with_capacity(stmts.len());
        let mut ok = true;
        for s in stmts {
            match self.stmt(cx, s) {
                Some(s) => out.extend(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// What a statement becomes: nothing for one that binds a function, one statement per
    /// unrolled iteration for a `for`, else one.
    fn stmt(&mut self, cx: &mut BodyCtx, s: &ast::Stmt) -> Option<Vec<BlockStmt>> {
        match &s.kind {
            ast::StmtKind::Let { pat, mutable, ty, value } => {
                if let (ast::Pattern::Name(name), false, None) = (pat, mutable, ty) {
                    if self.is_fn_expr(cx, value) {
                        match self.fn_value(cx, value) {
                            Some(f) => cx.bind(&name.name, Binding::Fn(f)),
                            None => cx.bind(&name.name, Binding::Poisoned),
                        }
                        return Some(Vec::new());
                    }
                }
                let declared = match ty {
                    Some(t) => match self.resolve_type(cx, t) {
                        Some(t) => Some(t),
                        None => {
                            bind_poisoned(cx, pat);
                            return None;
                        }
                    },
                    None => None,
                };
                let value = self.expr(cx, value);
                let Some(mut value) = value else {
                    bind_poisoned(cx, pat);
                    return None;
                };
                if let Some(t) = &declared {
                    value = match self.expect_ty(value, t, "the value of this `let`", ty.as_ref().map(|t| t.span)) {
                        Some(v) => v,
                        None => {
                            bind_poisoned(cx, pat);
                            return None;
                        }
                    };
                } else if *mutable {
                    // A variable that may be reassigned gets its type now (Go's rule for
                    // untyped constants): `let mut s = 0.0;` is `f64`.
                    let t = value.ty.defaulted();
                    coerce_ty(&mut value, &t);
                }
                let pat = self.bind_pattern(cx, pat, &value.ty.clone(), *mutable, value.span)?;
                Some(vec![BlockStmt::Let(pat, value)])
            }
            ast::StmtKind::Assign { name, value } => {
                let target = cx.lookup(&name.name).cloned();
                let value = self.expr(cx, value);
                let id = match target {
                    Some(Binding::Value { id, mutable: true }) => id,
                    Some(Binding::Poisoned) => return None,
                    Some(Binding::LoopVar { id, .. }) => {
                        let decl = cx.locals[id.index()].span;
                        self.error(
                            Diagnostic::new(codes::BAD_ASSIGN, format!("cannot assign to `{}`: it is a loop variable", name.name), name.span, "assigned here")
                                .with_label(decl, "the loop variable")
                                .with_hint(format!("each iteration fixes `{0}`; copy it to change it: `let mut k = {0};`", name.name)),
                        );
                        return None;
                    }
                    Some(Binding::Value { id, mutable: false }) => {
                        let decl = cx.locals[id.index()].span;
                        self.error(
                            Diagnostic::new(codes::BAD_ASSIGN, format!("cannot assign to `{}`: it is not mutable", name.name), name.span, "assigned here")
                                .with_label(decl, "defined here without `mut`")
                                .with_hint(format!("declare it with `let mut {} = …;`", name.name)),
                        );
                        return None;
                    }
                    Some(_) | None => {
                        let mut d = Diagnostic::new(codes::BAD_ASSIGN, format!("cannot assign to `{}`: it is not a `let mut` variable of this block", name.name), name.span, "assigned here");
                        d = d.with_hint(format!("declare it first with `let mut {} = …;`", name.name));
                        self.error(d);
                        return None;
                    }
                };
                let want = cx.local_ty(id).clone();
                let decl = cx.locals[id.index()].span;
                let value = self.expect_ty(value?, &want, &format!("the new value of `{}`", name.name), Some(decl))?;
                Some(vec![BlockStmt::Assign(id, value)])
            }
            ast::StmtKind::For { var, lo, hi, body } => {
                let lo_v = self.const_int(cx, lo, "a `for` range bound");
                let hi_v = self.const_int(cx, hi, "a `for` range bound");
                let (lo_v, hi_v) = (lo_v?, hi_v?);
                // The body is checked once per iteration, with the variable bound to that
                // iteration's value: lowering unrolls the loop anyway, and this way an inner
                // range (`for j in i..N`) or a shape (`x[0:i]`) that uses it is checked for
                // every value it takes, not assumed. Each checked iteration is a one-step
                // `For` in the HIR. This loop's own statements are counted against the
                // limit up front (a loop far past it is not checked iteration by iteration
                // first); the loops nested in it add theirs as each iteration is checked.
                let total = (hi_v - lo_v).max(0);
                self.unrolled = self.unrolled.saturating_add(total.saturating_mul(body.stmts.len().max(1) as i64));
                if self.unrolled > super::MAX_UNROLLED_ITERATIONS {
                    self.error(
                        Diagnostic::new(codes::GRAPH_TOO_LARGE, format!("this loop would unroll {total} iterations, past the limit of {} loop statements in a program", super::MAX_UNROLLED_ITERATIONS), s.span, "unrolled at compile time")
                            .with_hint("loops are unrolled into the graph; write the vectorised form, e.g. `sum(x)` rather than a loop over `x`"),
                    );
                    return None;
                }
                let mut iterations = Vec::new();
                for value in lo_v..hi_v {
                    let errors_before = self.diags.len();
                    cx.push_scope();
                    let id = cx.new_local(&var.name, Ty::scalar(Elem::I64), var.span);
                    cx.bind(&var.name, Binding::LoopVar { id, value });
                    let body_stmts = self.stmts(cx, &body.stmts);
                    cx.pop_scope();
                    let Some(body_stmts) = body_stmts else {
                        // The first failing iteration is reported, not every one after it.
                        // When earlier ones passed, the error depends on the value: say which.
                        if value > lo_v {
                            let note = format!("in the unrolled iteration where `{}` = {value} (loops are checked once per iteration)", var.name);
                            for d in &mut self.diags[errors_before..] {
                                d.hint = Some(match d.hint.take() {
                                    Some(h) => format!("{h}; {note}"),
                                    None => note.clone(),
                                });
                            }
                        }
                        return None;
                    };
                    iterations.push(BlockStmt::For { var: id, lo: value, hi: value + 1, body: body_stmts });
                }
                Some(iterations)
            }
        }
    }

    fn bind_pattern(&mut self, cx: &mut BodyCtx, pat: &ast::Pattern, ty: &Ty, mutable: bool, value_span: Span) -> Option<Pattern> {
        match pat {
            ast::Pattern::Name(name) if name.name == "_" => Some(Pattern::Ignore),
            ast::Pattern::Name(name) => {
                let id = cx.new_local(&name.name, ty.clone(), name.span);
                cx.bind(&name.name, Binding::Value { id, mutable });
                Some(Pattern::Local(id))
            }
            ast::Pattern::Tuple(items, span) => {
                let Ty::Tuple(tys) = ty else {
                    self.error(
                        Diagnostic::new(codes::PATTERN_MISMATCH, format!("a tuple pattern of {} cannot destructure `{ty}`", items.len()), *span, "tuple pattern")
                            .with_label(value_span, format!("this is `{ty}`")),
                    );
                    bind_poisoned(cx, pat);
                    return None;
                };
                if tys.len() != items.len() {
                    self.error(
                        Diagnostic::new(codes::PATTERN_MISMATCH, format!("a tuple pattern of {} cannot destructure a tuple of {}", items.len(), tys.len()), *span, format!("{} names", items.len()))
                            .with_label(value_span, format!("this is `{ty}`")),
                    );
                    bind_poisoned(cx, pat);
                    return None;
                }
                let parts = items.iter().zip(tys).map(|(p, t)| self.bind_pattern(cx, p, t, mutable, value_span)).collect::<Option<Vec<_>>>()?;
                Some(Pattern::Tuple(parts))
            }
        }
    }

    /// A compile-time integer: a literal, a constant, a generic dimension, or arithmetic of them.
    pub(super) fn const_int(&mut self, cx: &mut BodyCtx, e: &ast::Expr, what: &str) -> Option<i64> {
        let v = self.expr(cx, e)?;
        match const_eval(&v) {
            Some(ConstValue::Int(i)) => Some(i),
            Some(other) => {
                self.error(Diagnostic::new(codes::TYPE_MISMATCH, format!("{what} must be an integer, found `{}`", other.ty()), e.span, "not an integer"));
                None
            }
            None => {
                self.error(
                    Diagnostic::new(codes::NOT_CONSTANT, format!("{what} must be known at compile time"), e.span, "computed at run time")
                        .with_hint("use a literal, a `const`, a shape variable of the function, or arithmetic of them"),
                );
                None
            }
        }
    }

    fn index(&mut self, cx: &mut BodyCtx, base: &ast::Expr, subs: &[ast::Subscript], span: Span) -> Option<hir::Expr> {
        let base = self.expr(cx, base)?;
        let t = self.tensor_of(&base, "an indexed value")?.clone();
        if subs.len() > t.rank() {
            self.error(
                Diagnostic::new(codes::BAD_INDEX, format!("{} subscripts for a value of rank {}", subs.len(), t.rank()), span, "too many subscripts")
                    .with_label(base.span, format!("this is `{t}`")),
            );
            return None;
        }
        let mut out_shape = Vec::new();
        let mut checked = Vec::new();
        for (axis, sub) in subs.iter().enumerate() {
            let dim = t.shape[axis];
            match sub {
                ast::Subscript::Index(i) => {
                    let mut iv = self.expr(cx, i)?;
                    let it = self.tensor_of(&iv, "an index")?.clone();
                    if !it.is_scalar() || !matches!(it.elem, Elem::I64 | Elem::WeakInt) {
                        self.error(
                            Diagnostic::new(codes::BAD_INDEX, format!("an index must be a scalar `i64`, found `{it}`"), i.span, "not an integer scalar")
                                .with_hint(if it.elem.is_float() { "convert it with `i64(…)`" } else { "index one axis at a time with scalars, or use `one_hot` and `@` to gather" }),
                        );
                        return None;
                    }
                    if let Some(ConstValue::Int(k)) = const_eval(&iv) {
                        let resolved = if k < 0 { k + dim as i64 } else { k };
                        if resolved < 0 || resolved >= dim as i64 {
                            self.error(
                                Diagnostic::new(codes::BAD_INDEX, format!("index {k} is out of range for axis {axis} of length {dim}"), i.span, "out of range")
                                    .with_label(base.span, format!("this is `{t}`")),
                            );
                            return None;
                        }
                        iv = mk(ExprKind::Literal(Literal::Int(resolved)), Ty::scalar(Elem::I64), i.span);
                    }
                    coerce(&mut iv, Elem::I64);
                    checked.push(Subscript::Index(iv));
                }
                ast::Subscript::Slice { lo, hi, span: sspan } => {
                    let mut bound = |me: &mut Self, b: &Option<ast::Expr>, default: i64| -> Option<usize> {
                        let Some(b) = b else { return Some(default as usize) };
                        let v = me.const_int(cx, b, "a slice bound")?;
                        let r = if v < 0 { v + dim as i64 } else { v };
                        if r < 0 || r > dim as i64 {
                            me.error(Diagnostic::new(codes::BAD_INDEX, format!("slice bound {v} is out of range for axis {axis} of length {dim}"), b.span, "out of range"));
                            return None;
                        }
                        Some(r as usize)
                    };
                    let l = bound(self, lo, 0)?;
                    let h = bound(self, hi, dim as i64)?;
                    if l > h {
                        self.error(Diagnostic::new(codes::BAD_INDEX, format!("slice {l}:{h} is empty backwards"), *sspan, "start after end"));
                        return None;
                    }
                    out_shape.push(h - l);
                    checked.push(Subscript::Slice { lo: l, hi: h });
                }
            }
        }
        out_shape.extend(&t.shape[subs.len()..]);
        Some(mk(ExprKind::Index(Box::new(base), checked), Ty::tensor(t.elem, out_shape), span))
    }

    pub(super) fn transpose(&mut self, a: hir::Expr, span: Span) -> Option<hir::Expr> {
        let t = self.tensor_of(&a, "the operand of a transpose")?.clone();
        let shape: Vec<usize> = t.shape.iter().rev().copied().collect();
        Some(mk(ExprKind::Builtin(hir::Builtin::Transpose, vec![a]), Ty::tensor(t.elem, shape), span))
    }
}

fn bind_poisoned(cx: &mut BodyCtx, pat: &ast::Pattern) {
    match pat {
        ast::Pattern::Name(n) => cx.bind(&n.name, Binding::Poisoned),
        ast::Pattern::Tuple(items, _) => items.iter().for_each(|p| bind_poisoned(cx, p)),
    }
}

pub(super) fn shape_of(ty: &Ty) -> String {
    match ty {
        Ty::Tensor(t) => shape_str(&t.shape),
        Ty::Tuple(_) => ty.to_string(),
    }
}

/// Coerces `e` to exactly `want` (which it is known to coerce to).
pub(super) fn coerce_ty(e: &mut hir::Expr, want: &Ty) {
    match (&mut e.kind, want) {
        (ExprKind::Tuple(items), Ty::Tuple(ts)) => {
            for (i, t) in items.iter_mut().zip(ts) {
                coerce_ty(i, t);
            }
            e.ty = want.clone();
        }
        (_, Ty::Tensor(t)) => coerce(e, t.elem),
        _ => {}
    }
}

/// Gives a weakly typed expression the element type `elem`: literals and the operations on
/// them change type; a weak local keeps its (defaulted) type and is converted where used.
pub(super) fn coerce(e: &mut hir::Expr, elem: Elem) {
    let Ty::Tensor(t) = &e.ty else { return };
    if !t.elem.is_weak() || t.elem == elem || !t.elem.coerces_to(elem) {
        return;
    }
    let target = t.with_elem(elem);
    match &mut e.kind {
        ExprKind::Literal(lit) => {
            if let (Literal::Int(i), true) = (*lit, elem.is_float()) {
                *lit = Literal::Float(i as f64);
            }
        }
        // An element of a weak tensor: the tensor takes the type.
        ExprKind::Index(base, _) => coerce(base, elem),
        // A lambda called in place: its (weak) result takes the type.
        ExprKind::Call(callee, _) if matches!(**callee, hir::Callee::Lambda { .. }) => {
            if let hir::Callee::Lambda { body, .. } = &mut **callee {
                coerce(body, elem);
            }
        }
        ExprKind::Local(_) | ExprKind::Call(..) => {
            // The value keeps its own (defaulted) type and is converted; defaulting it now
            // means a later `default_weak` finds nothing weak inside to wrap again.
            let mut inner = std::mem::replace(e, mk(ExprKind::Tuple(vec![]), Ty::Tuple(vec![]), e.span));
            default_weak(&mut inner);
            *e = mk(ExprKind::Convert(Box::new(inner)), Ty::Tensor(target), e.span);
            return;
        }
        ExprKind::Binary(op, a, b) if !op.is_comparison() => {
            coerce(a, elem);
            coerce(b, elem);
        }
        ExprKind::Unary(_, a) | ExprKind::PowInt(a, _) | ExprKind::Convert(a) => coerce(a, elem),
        ExprKind::Tensor(items) => items.iter_mut().for_each(|i| coerce(i, elem)),
        ExprKind::If(_, a, b) => {
            coerce(a, elem);
            coerce(b, elem);
        }
        ExprKind::Block(_, v) => coerce(v, elem),
        // Index-like arguments (one_hot's indices, argmax's input) keep their own type.
        ExprKind::Builtin(b, args) if !matches!(b, hir::Builtin::OneHot | hir::Builtin::Reduce { op: hir::ReduceOp::ArgMax, .. }) => {
            args.iter_mut().for_each(|a| coerce(a, elem));
        }
        _ => {}
    }
    e.ty = Ty::Tensor(target);
}

/// Defaults every weak type left in a checked expression (after its context is known).
pub(super) fn default_weak(e: &mut hir::Expr) {
    // A weak local is stored in its defaulted type: the reference just takes that type
    // (converting it to itself would wrap it again and again).
    if let ExprKind::Local(_) = e.kind {
        e.ty = e.ty.defaulted();
        return;
    }
    if let Ty::Tensor(t) = &e.ty {
        if t.elem.is_weak() {
            coerce(e, t.elem.defaulted());
        }
    }
    e.ty = e.ty.defaulted();
    match &mut e.kind {
        ExprKind::Tensor(items) | ExprKind::Tuple(items) | ExprKind::Builtin(_, items) => items.iter_mut().for_each(default_weak),
        ExprKind::Unary(_, a) | ExprKind::PowInt(a, _) | ExprKind::Convert(a) => default_weak(a),
        ExprKind::Binary(_, a, b) => {
            default_weak(a);
            default_weak(b);
        }
        ExprKind::If(c, a, b) => {
            default_weak(c);
            default_weak(a);
            default_weak(b);
        }
        ExprKind::Block(stmts, v) => {
            stmts.iter_mut().for_each(default_weak_stmt);
            default_weak(v);
        }
        ExprKind::Call(callee, args) => {
            args.iter_mut().for_each(default_weak);
            default_weak_callee(callee);
        }
        ExprKind::Index(base, subs) => {
            default_weak(base);
            for s in subs {
                if let Subscript::Index(i) = s {
                    default_weak(i);
                }
            }
        }
        ExprKind::Literal(_) | ExprKind::Local(_) | ExprKind::Param(_) | ExprKind::Data(_) | ExprKind::Random(_) => {}
    }
}

/// [`default_weak`] inside a callee (a lambda's body; a transform's inner function).
pub(super) fn default_weak_callee(c: &mut hir::Callee) {
    match c {
        hir::Callee::Fn(_) => {}
        hir::Callee::Lambda { body, .. } => default_weak(body),
        hir::Callee::Transform { inner, .. } => default_weak_callee(inner),
    }
}

fn default_weak_stmt(s: &mut BlockStmt) {
    match s {
        BlockStmt::Let(_, v) | BlockStmt::Assign(_, v) => default_weak(v),
        BlockStmt::For { body, .. } => body.iter_mut().for_each(default_weak_stmt),
    }
}
