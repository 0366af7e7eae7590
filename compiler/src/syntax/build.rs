//! AST-building helpers for the actions of `grammar/gd.lalrpop`, so that each action is one
//! call and the grammar file reads as a grammar.
//!
//! Two jobs besides plain construction:
//! - Syntax errors found by an action (a chained comparison, a field other than `.T`, …)
//!   become diagnostics here, and the node becomes [`ExprKind::Error`].
//! - **Depth bound.** Every expression, block and statement is built as a [`Deep`]: the node
//!   and the depth of its tree. A node that would be deeper than [`MAX_DEPTH`] is reported
//!   (E014) and replaced by an error node marked [`POISON`]; poison propagates upwards without
//!   further reports, and an item containing it is dropped. So no tree deeper than
//!   `MAX_DEPTH` ever exists — not in the AST, and not on lalrpop's stack when it discards
//!   symbols during error recovery — and every later recursive walk (drop included) is
//!   bounded, whatever the input.

use lalrpop_util::ErrorRecovery;

use super::ast::*;
use super::token::Tok;
use crate::diag::{codes, Diagnostic};
use crate::source::{FileId, Span};

/// The deepest expression tree (counting expressions, blocks and statements) the parser builds.
pub const MAX_DEPTH: u32 = 1000;

/// The depth of a node that replaced a too-deep tree; it is already reported.
pub const POISON: u32 = u32::MAX;

/// A syntax error as lalrpop reports it, kept until the parse ends and the token list can
/// be consulted to word it.
pub type Recovered<'src> = ErrorRecovery<usize, Tok<'src>, Diagnostic>;

/// A node and the depth of its tree.
pub struct Deep<T> {
    pub node: T,
    pub depth: u32,
}

pub type DExpr = Deep<Expr>;

/// State shared by the actions: where spans point, what has gone wrong, what was parsed.
pub struct Ctx<'src> {
    pub file: FileId,
    pub src: &'src str,
    /// Items are collected here rather than returned, so a parse that stops early (nesting
    /// too deep) keeps the items before the stop.
    pub items: Vec<Item>,
    /// Errors found by actions, already worded.
    pub diags: Vec<Diagnostic>,
    /// Errors lalrpop recovered from, worded later by the parser module.
    pub recovered: Vec<Recovered<'src>>,
    /// Errors not kept because [`MAX_KEPT`] were already kept.
    pub overflow: usize,
}

/// The most errors of each kind kept while parsing: a file in another language would
/// otherwise give one per token, each with lalrpop's list of expected tokens.
pub const MAX_KEPT: usize = 400;

/// The tail of a block: its value (perhaps a recovered error), or nothing, which is reported.
pub enum Tail {
    Value(DExpr),
    Missing,
}

fn max_depth(depths: impl IntoIterator<Item = u32>) -> u32 {
    depths.into_iter().max().unwrap_or(0)
}

impl<'src> Ctx<'src> {
    pub fn new(file: FileId, src: &'src str) -> Ctx<'src> {
        Ctx { file, src, items: Vec::new(), diags: Vec::new(), recovered: Vec::new(), overflow: 0 }
    }

    pub fn span(&self, l: usize, r: usize) -> Span {
        Span::new(self.file, l, r)
    }

    fn text(&self, span: Span) -> &'src str {
        self.src.get(span.range()).unwrap_or("…")
    }

    fn error(&mut self, code: crate::diag::Code, msg: impl Into<String>, span: Span, label: &str, hint: Option<String>) {
        if self.diags.len() >= MAX_KEPT {
            self.overflow += 1;
            return;
        }
        let mut d = Diagnostic::new(code, msg, span, label);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.diags.push(d);
    }

    /// Records an error lalrpop recovered from.
    pub fn recovered(&mut self, e: Recovered<'src>) {
        if self.recovered.len() >= MAX_KEPT {
            self.overflow += 1;
        } else {
            self.recovered.push(e);
        }
    }

    /// The depth of a node over children of the given depths: reports E014 the first time
    /// the bound is crossed and returns [`POISON`] then and for every ancestor.
    fn depth_over(&mut self, children: impl IntoIterator<Item = u32>, span: Span) -> u32 {
        let d = max_depth(children);
        if d == POISON {
            return POISON;
        }
        if d + 1 > MAX_DEPTH {
            self.error(
                codes::TOO_DEEP,
                format!("expression nested more than {MAX_DEPTH} deep"),
                span,
                "this is nested too deeply",
                Some("split it into steps with `let` bindings".into()),
            );
            return POISON;
        }
        d + 1
    }

    // ----- expressions -----

    pub fn ident(&self, name: &str, l: usize, r: usize) -> Ident {
        Ident { name: name.to_string(), span: self.span(l, r) }
    }

    /// An expression node over children of the given depths.
    fn expr(&mut self, kind: ExprKind, span: Span, children: impl IntoIterator<Item = u32>) -> DExpr {
        let depth = self.depth_over(children, span);
        // A poisoned node drops its children here; they are at most MAX_DEPTH deep.
        let kind = if depth == POISON { ExprKind::Error } else { kind };
        Deep { node: Expr { kind, span }, depth }
    }

    pub fn leaf(&mut self, kind: ExprKind, l: usize, r: usize) -> DExpr {
        Deep { node: Expr { kind, span: self.span(l, r) }, depth: 1 }
    }

    /// An error node that stands for something already reported.
    fn error_expr(&self, span: Span) -> DExpr {
        Deep { node: Expr { kind: ExprKind::Error, span }, depth: 1 }
    }

    /// An expression position where lalrpop recovered from a syntax error.
    pub fn recovered_expr(&mut self, e: Recovered<'src>, l: usize, r: usize) -> DExpr {
        self.recovered(e);
        self.error_expr(self.span(l, r))
    }

    pub fn path(&self, first: Ident, rest: Vec<Ident>, l: usize, r: usize) -> Path {
        let mut segments = vec![first];
        segments.extend(rest);
        Path { segments, span: self.span(l, r) }
    }

    pub fn name(&mut self, p: Path) -> DExpr {
        let span = p.span;
        Deep { node: Expr { kind: ExprKind::Name(p), span }, depth: 1 }
    }

    fn unary(&mut self, op: UnOp, e: DExpr, l: usize, r: usize) -> DExpr {
        let d = e.depth;
        self.expr(ExprKind::Unary(op, Box::new(e.node)), self.span(l, r), [d])
    }

    pub fn binary(&mut self, op: BinOp, a: DExpr, b: DExpr, l: usize, r: usize) -> DExpr {
        let ds = [a.depth, b.depth];
        self.expr(ExprKind::Binary(op, Box::new(a.node), Box::new(b.node)), self.span(l, r), ds)
    }

    /// A comparison. The grammar accepts `a < b < c` so that it can be reported here with
    /// a hint; a parenthesised left side `(a < b) < c` is a `Paren` and is fine.
    pub fn compare(&mut self, op: BinOp, a: DExpr, b: DExpr, l: usize, r: usize) -> DExpr {
        if let ExprKind::Binary(inner, _, mid) = &a.node.kind {
            if inner.is_comparison() {
                let span = self.span(l, r);
                let (first, mid, last) = (self.text(a.node.span), self.text(mid.span), self.text(b.node.span));
                // Quote the user's own operands while they are short enough to read.
                let hint = if first.len() + mid.len() + last.len() <= 60 {
                    format!("comparisons do not chain; write `{first} & {mid} {} {last}`", op.symbol())
                } else {
                    "comparisons do not chain; write `a < b & b < c`".to_string()
                };
                self.error(codes::CHAINED_COMPARISON, "comparisons cannot be chained", span, "a chained comparison", Some(hint));
                return self.error_expr(span);
            }
        }
        self.binary(op, a, b, l, r)
    }

    pub fn call(&mut self, callee: DExpr, args: Vec<Deep<Arg>>, l: usize, r: usize) -> DExpr {
        let ds: Vec<u32> = std::iter::once(callee.depth).chain(args.iter().map(|a| a.depth)).collect();
        let args = args.into_iter().map(|a| a.node).collect();
        self.expr(ExprKind::Call { callee: Box::new(callee.node), args }, self.span(l, r), ds)
    }

    pub fn arg(&self, name: Option<Ident>, value: DExpr) -> Deep<Arg> {
        Deep { depth: value.depth, node: Arg { name, value: value.node } }
    }

    pub fn index(&mut self, base: DExpr, subs: Vec<Deep<Subscript>>, l: usize, r: usize) -> DExpr {
        let ds: Vec<u32> = std::iter::once(base.depth).chain(subs.iter().map(|s| s.depth)).collect();
        let subscripts = subs.into_iter().map(|s| s.node).collect();
        self.expr(ExprKind::Index { base: Box::new(base.node), subscripts }, self.span(l, r), ds)
    }

    pub fn subscript(&self, e: DExpr) -> Deep<Subscript> {
        Deep { depth: e.depth, node: Subscript::Index(e.node) }
    }

    pub fn slice(&self, lo: Option<DExpr>, hi: Option<DExpr>, l: usize, r: usize) -> Deep<Subscript> {
        let depth = max_depth(lo.iter().chain(hi.iter()).map(|e| e.depth));
        let span = self.span(l, r);
        Deep { depth, node: Subscript::Slice { lo: lo.map(|e| e.node), hi: hi.map(|e| e.node), span } }
    }

    /// `x.f`: only `.T` exists.
    pub fn field(&mut self, base: DExpr, field: Ident, l: usize, r: usize) -> DExpr {
        if field.name == "T" {
            let d = base.depth;
            return self.expr(ExprKind::Transpose(Box::new(base.node)), self.span(l, r), [d]);
        }
        self.error(
            codes::UNKNOWN_FIELD,
            format!("unknown field `.{}`", field.name),
            field.span,
            "not a field",
            Some("`.T` (transpose) is the only field in gd; functions are called as `f(x)`".into()),
        );
        self.error_expr(self.span(l, r))
    }

    /// `t.0`: tuples have no fields.
    pub fn tuple_field(&mut self, l: usize, fl: usize, r: usize) -> DExpr {
        self.error(
            codes::UNKNOWN_FIELD,
            "tuples have no fields",
            self.span(fl, r),
            "not a field",
            Some("take a tuple apart with `let (a, b) = t;`".into()),
        );
        self.error_expr(self.span(l, r))
    }

    pub fn paren(&mut self, e: DExpr, l: usize, r: usize) -> DExpr {
        let d = e.depth;
        self.expr(ExprKind::Paren(Box::new(e.node)), self.span(l, r), [d])
    }

    /// `(a, b, …)`: `first` and the rest after its comma.
    pub fn tuple(&mut self, first: DExpr, rest: Vec<DExpr>, l: usize, r: usize) -> DExpr {
        self.list(prepend(first, rest), l, r, ExprKind::Tuple)
    }

    pub fn tensor(&mut self, es: Vec<DExpr>, l: usize, r: usize) -> DExpr {
        self.list(es, l, r, ExprKind::TensorLit)
    }

    fn list(&mut self, es: Vec<DExpr>, l: usize, r: usize, kind: fn(Vec<Expr>) -> ExprKind) -> DExpr {
        let ds: Vec<u32> = es.iter().map(|e| e.depth).collect();
        self.expr(kind(es.into_iter().map(|e| e.node).collect()), self.span(l, r), ds)
    }

    /// `ops₀ p₀ ^ ops₁ p₁ ^ … ^ opsₖ pₖ` ending at `r`, folded from the right:
    /// `ops₀ (p₀ ^ ops₁ (p₁ ^ … opsₖ pₖ))`.
    pub fn power_chain(&mut self, mut chain: Vec<(Vec<(usize, UnOp)>, DExpr)>, r: usize) -> DExpr {
        let Some((ops, mut acc)) = chain.pop() else { return self.error_expr(self.span(r, r)) };
        acc = self.prefix_ops(ops, acc, r);
        while let Some((ops, base)) = chain.pop() {
            let l = base.node.span.lo as usize;
            acc = self.binary(BinOp::Pow, base, acc, l, r);
            acc = self.prefix_ops(ops, acc, r);
        }
        acc
    }

    fn prefix_ops(&mut self, mut ops: Vec<(usize, UnOp)>, mut e: DExpr, r: usize) -> DExpr {
        while let Some((l, op)) = ops.pop() {
            e = self.unary(op, e, l, r);
        }
        e
    }

    /// `if c₀ { t₀ } else if c₁ { t₁ } … else { last }` ending at `r`; each `if` starts at its `l`.
    pub fn if_chain(&mut self, mut chain: Vec<(usize, DExpr, Deep<Block>)>, last: Deep<Block>, r: usize) -> DExpr {
        let mut acc = self.block_expr(last);
        while let Some((l, cond, then)) = chain.pop() {
            acc = self.if_(cond, then, acc, l, r);
        }
        acc
    }

    fn if_(&mut self, cond: DExpr, then: Deep<Block>, otherwise: DExpr, l: usize, r: usize) -> DExpr {
        let ds = [cond.depth, then.depth, otherwise.depth];
        let kind = ExprKind::If { cond: Box::new(cond.node), then: then.node, otherwise: Box::new(otherwise.node) };
        self.expr(kind, self.span(l, r), ds)
    }

    pub fn block_expr(&mut self, b: Deep<Block>) -> DExpr {
        let span = b.node.span;
        self.expr(ExprKind::Block(b.node), span, [b.depth])
    }

    /// `|a| |b| … body` ending at `r`; each head is where its `|` starts and its parameters.
    pub fn lambdas(&mut self, mut heads: Vec<(usize, Vec<LambdaParam>)>, body: DExpr, r: usize) -> DExpr {
        let mut acc = body;
        while let Some((l, params)) = heads.pop() {
            let d = acc.depth;
            acc = self.expr(ExprKind::Lambda { params, body: Box::new(acc.node) }, self.span(l, r), [d]);
        }
        acc
    }

    // ----- blocks and statements -----

    /// A value block `{ stmts value }`; `close` is where its `}` starts.
    pub fn block(&mut self, stmts: Vec<Deep<Option<Stmt>>>, tail: Tail, l: usize, close: usize, r: usize) -> Deep<Block> {
        let value = match tail {
            Tail::Value(v) => v,
            Tail::Missing => {
                let at = self.span(close, r);
                self.error(
                    codes::UNEXPECTED_TOKEN,
                    "this block has no value",
                    at,
                    "expected an expression before this `}`",
                    Some("a block ends with an expression, without `;`: its value".into()),
                );
                self.error_expr(at)
            }
        };
        let value = Some(value);
        self.finish_block(stmts, value, l, r)
    }

    /// A `for` body `{ stmts }`: statements only.
    pub fn for_body(&mut self, stmts: Vec<Deep<Option<Stmt>>>, tail: Option<DExpr>, l: usize, r: usize) -> Deep<Block> {
        if let Some(v) = tail {
            self.error(
                codes::UNEXPECTED_TOKEN,
                "a `for` body has no value",
                v.node.span,
                "expected a statement",
                Some("a `for` body has statements only: update a `let mut` variable with `x = …;`".into()),
            );
        }
        self.finish_block(stmts, None, l, r)
    }

    fn finish_block(&mut self, stmts: Vec<Deep<Option<Stmt>>>, value: Option<DExpr>, l: usize, r: usize) -> Deep<Block> {
        let span = self.span(l, r);
        let ds: Vec<u32> = stmts.iter().map(|s| s.depth).chain(value.iter().map(|v| v.depth)).collect();
        let depth = self.depth_over(ds, span);
        let stmts = if depth == POISON { Vec::new() } else { stmts.into_iter().filter_map(|s| s.node).collect() };
        let value = if depth == POISON { None } else { value.map(|v| Box::new(v.node)) };
        Deep { node: Block { stmts, value, span }, depth }
    }

    fn stmt(&mut self, kind: StmtKind, l: usize, r: usize, children: impl IntoIterator<Item = u32>) -> Deep<Option<Stmt>> {
        let span = self.span(l, r);
        let depth = self.depth_over(children, span);
        Deep { node: (depth != POISON).then_some(Stmt { kind, span }), depth }
    }

    /// A statement lalrpop recovered from: dropped.
    pub fn recovered_stmt(&mut self, e: Recovered<'src>) -> Deep<Option<Stmt>> {
        self.recovered(e);
        Deep { node: None, depth: 0 }
    }

    pub fn let_(&mut self, pat: Pattern, mutable: bool, ty: Option<Type>, value: DExpr, l: usize, r: usize) -> Deep<Option<Stmt>> {
        let d = value.depth;
        self.stmt(StmtKind::Let { pat, mutable, ty, value: value.node }, l, r, [d])
    }

    /// `target = value;`. The grammar takes any expression as the target so that `x[i] = e`
    /// gets a precise error here instead of a bare "unexpected `=`".
    pub fn assign(&mut self, target: DExpr, value: DExpr, l: usize, r: usize) -> Deep<Option<Stmt>> {
        let name = match &target.node.kind {
            ExprKind::Name(p) if p.segments.len() == 1 => p.segments.first().cloned(),
            _ => None,
        };
        let Some(name) = name else {
            let what = if matches!(target.node.kind, ExprKind::Index { .. }) { "an element" } else { "this" };
            self.error(
                codes::UNEXPECTED_TOKEN,
                format!("cannot assign to {what}"),
                target.node.span,
                "not a variable name",
                Some("only a `let mut` name can be assigned: `x = …;`; build a new tensor instead of assigning elements".into()),
            );
            return Deep { node: None, depth: 0 };
        };
        let d = value.depth;
        self.stmt(StmtKind::Assign { name, value: value.node }, l, r, [d])
    }

    pub fn for_(&mut self, var: Ident, lo: DExpr, hi: DExpr, body: Deep<Block>, l: usize, r: usize) -> Deep<Option<Stmt>> {
        let ds = [lo.depth, hi.depth, body.depth];
        self.stmt(StmtKind::For { var, lo: lo.node, hi: hi.node, body: body.node }, l, r, ds)
    }

    // ----- items -----

    /// Adds an item whose expressions have the given depth; one holding a too-deep
    /// expression (already reported) is dropped.
    pub fn item(&mut self, kind: ItemKind, depth: u32, l: usize, r: usize) {
        if depth != POISON {
            self.items.push(Item { kind, span: self.span(l, r) });
        }
    }

    /// `F: float` — the only bound.
    pub fn generic_bound(&mut self, name: Ident, bound: Ident, l: usize, r: usize) -> Generic {
        if bound.name != "float" {
            self.error(
                codes::UNEXPECTED_TOKEN,
                format!("expected `float`, found `{}`", bound.name),
                bound.span,
                "not a bound",
                Some("a generic is a dimension `N`, a float type `F: float` or a rest of shape `..S`".into()),
            );
        }
        Generic { name, kind: GenericKind::Float, span: self.span(l, r) }
    }

    pub fn fn_param(&self, name: Ident, ty: Type, default: Option<DExpr>, l: usize, r: usize) -> Deep<Param> {
        let depth = default.as_ref().map_or(0, |d| d.depth);
        Deep { depth, node: Param { name, ty, default: default.map(|d| d.node), span: self.span(l, r) } }
    }

    /// `with jvp(x, dx) { … }`: `jvp` is an ordinary name, checked here.
    pub fn jvp_rule(&mut self, word: Ident, args: Vec<Ident>, body: Deep<Block>, l: usize, r: usize) -> Deep<Option<JvpRule>> {
        if word.name != "jvp" {
            self.error(
                codes::UNEXPECTED_TOKEN,
                format!("expected `jvp`, found `{}`", word.name),
                word.span,
                "expected `jvp`",
                Some("a function's own derivative rule is written `with jvp(x, dx) { … }`".into()),
            );
            return Deep { node: None, depth: body.depth };
        }
        Deep { depth: body.depth, node: Some(JvpRule { args, body: body.node, span: self.span(l, r) }) }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn fn_item(
        &mut self,
        name: Ident,
        generics: Option<Vec<Generic>>,
        params: Vec<Deep<Param>>,
        ret: Option<Type>,
        body: Deep<Block>,
        jvp: Option<Deep<Option<JvpRule>>>,
        l: usize,
        r: usize,
    ) {
        let jvp_depth = jvp.as_ref().map_or(0, |j| j.depth);
        let depth = max_depth(params.iter().map(|p| p.depth).chain([body.depth, jvp_depth]));
        let decl = FnDecl {
            name,
            generics: generics.unwrap_or_default(),
            params: params.into_iter().map(|p| p.node).collect(),
            ret,
            body: body.node,
            jvp_rule: jvp.and_then(|j| j.node),
        };
        self.item(ItemKind::Fn(std::rc::Rc::new(decl)), depth, l, r);
    }

    pub fn option(&self, name: Ident, value: DExpr, l: usize, r: usize) -> Deep<Option<OptionItem>> {
        Deep { depth: value.depth, node: Some(OptionItem { name, value: value.node, span: self.span(l, r) }) }
    }

    pub fn recovered_option(&mut self, e: Recovered<'src>) -> Deep<Option<OptionItem>> {
        self.recovered(e);
        Deep { node: None, depth: 0 }
    }

    /// `train call { opts }` / `bench e { opts }` (`train` when `is_train`).
    pub fn with_options(&mut self, is_train: bool, e: DExpr, opts: Vec<Deep<Option<OptionItem>>>, l: usize, r: usize) {
        let depth = max_depth(opts.iter().map(|o| o.depth).chain([e.depth]));
        let options = opts.into_iter().filter_map(|o| o.node).collect();
        let kind = if is_train {
            ItemKind::Train { call: e.node, options }
        } else {
            ItemKind::Bench { expr: e.node, options }
        };
        self.item(kind, depth, l, r);
    }

    pub fn print(&mut self, es: Vec<DExpr>, l: usize, r: usize) {
        let depth = max_depth(es.iter().map(|e| e.depth));
        self.item(ItemKind::Print(es.into_iter().map(|e| e.node).collect()), depth, l, r);
    }
}

/// `first` followed by `rest`: the elements of `(a, b, …)`.
pub fn prepend<T>(first: T, rest: Vec<T>) -> Vec<T> {
    let mut v = Vec::with_capacity(rest.len() + 1);
    v.push(first);
    v.extend(rest);
    v
}
