//! The ASTs the REPL builds around the parts of a line: blocks of the session's `let`s, the
//! `print`, `assert` and `fn` items a line is checked as. Made nodes take the span of the
//! user's text they stand for, so diagnostics point at what was typed.

use gradc_compiler::check::types::Ty;
use gradc_compiler::source::Span;
use gradc_compiler::syntax::ast;

use super::line::Binding;

pub fn expr(kind: ast::ExprKind, span: Span) -> ast::Expr {
    ast::Expr { kind, span }
}

pub fn ident(name: &str, span: Span) -> ast::Ident {
    ast::Ident { name: name.to_string(), span }
}

pub fn name_expr(name: &str, span: Span) -> ast::Expr {
    expr(ast::ExprKind::Name(ast::Path { segments: vec![ident(name, span)], span }), span)
}

/// `{ stmts… value }`, spanning the value.
pub fn block(stmts: Vec<ast::Stmt>, value: ast::Expr) -> ast::Expr {
    let span = value.span;
    expr(ast::ExprKind::Block(ast::Block { stmts, value: Some(Box::new(value)), span }), span)
}

pub fn binding_stmt(b: &Binding) -> ast::Stmt {
    let span = b.name.span.to(b.value.span);
    ast::Stmt { kind: ast::StmtKind::Let { pat: ast::Pattern::Name(b.name.clone()), mutable: false, ty: None, value: b.value.clone() }, span }
}

/// An integer literal (or its negation) as the float it stands for where a float is
/// expected: `at t = 0`.
pub fn float_literal(e: ast::Expr) -> ast::Expr {
    let value = match &e.kind {
        ast::ExprKind::Int(n) => Some(*n as f64),
        ast::ExprKind::Unary(ast::UnOp::Neg, inner) => match inner.kind {
            ast::ExprKind::Int(n) => Some(-(n as f64)),
            _ => None,
        },
        _ => None,
    };
    match value {
        Some(v) => expr(ast::ExprKind::Float(v), e.span),
        None => e,
    }
}

pub fn fn_item(name: &str, params: Vec<ast::Param>, ret: Option<ast::Type>, body: ast::Expr, span: Span) -> ast::Item {
    let body = match body.kind {
        ast::ExprKind::Block(b) => b,
        kind => ast::Block { stmts: Vec::new(), value: Some(Box::new(ast::Expr { kind, span: body.span })), span: body.span },
    };
    let decl = ast::FnDecl { name: ident(name, span), generics: Vec::new(), params, ret, body, jvp_rule: None };
    ast::Item { kind: ast::ItemKind::Fn(std::rc::Rc::new(decl)), span }
}

/// A checked type written back as a type annotation.
pub fn type_ast(ty: &Ty, span: Span) -> ast::Type {
    let kind = match ty {
        Ty::Tensor(t) => {
            let elem = ident(t.elem.name(), span);
            let dims = (!t.shape.is_empty()).then(|| t.shape.iter().map(|&d| ast::Dim::Lit(d as i64, span)).collect());
            ast::TypeKind::Tensor { elem, dims }
        }
        Ty::Tuple(ts) => ast::TypeKind::Tuple(ts.iter().map(|t| type_ast(t, span)).collect()),
    };
    ast::Type { kind, span }
}

/// The name an item declares (for redeclaration), if it declares one.
pub fn item_name(item: &ast::Item) -> Option<String> {
    match &item.kind {
        ast::ItemKind::Const { name, .. } | ast::ItemKind::Param { name, .. } | ast::ItemKind::Data { name, .. } | ast::ItemKind::DerivedFn { name, .. } => Some(name.name.clone()),
        ast::ItemKind::Fn(decl) => Some(decl.name.name.clone()),
        _ => None,
    }
}

/// What a `use` brings in, so that the session holds each once.
pub fn use_key(item: &ast::Item) -> Option<String> {
    match &item.kind {
        ast::ItemKind::UseModule(m) => Some(format!("module {}", m.name)),
        ast::ItemKind::UseFile(p, _) => Some(format!("file {p}")),
        _ => None,
    }
}

