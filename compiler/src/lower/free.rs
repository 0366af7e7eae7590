//! The locals an expression mentions, so that a lambda lowered into a graph of its own can
//! capture them from the enclosing frame before it needs them.

use crate::check::hir::{BlockStmt, Callee, Expr, ExprKind, LocalId, Subscript};

/// Every local `e` reads, including inside blocks, lambdas and the callees of derivative
/// operators (duplicates possible; locals bound inside are included and skipped by the caller).
pub(super) fn locals(e: &Expr, out: &mut Vec<LocalId>) {
    match &e.kind {
        ExprKind::Local(id) => out.push(*id),
        ExprKind::Literal(_) | ExprKind::Param(_) | ExprKind::Data(_) | ExprKind::Random(_) => {}
        ExprKind::Tensor(xs) | ExprKind::Tuple(xs) | ExprKind::Builtin(_, xs) => xs.iter().for_each(|x| locals(x, out)),
        ExprKind::Unary(_, a) | ExprKind::PowInt(a, _) | ExprKind::Convert(a) => locals(a, out),
        ExprKind::Binary(_, a, b) => {
            locals(a, out);
            locals(b, out);
        }
        ExprKind::Call(callee, args) => {
            callee_locals(callee, out);
            args.iter().for_each(|x| locals(x, out));
        }
        ExprKind::Index(x, subs) => {
            locals(x, out);
            for s in subs {
                if let Subscript::Index(i) = s {
                    locals(i, out);
                }
            }
        }
        ExprKind::If(c, a, b) => {
            locals(c, out);
            locals(a, out);
            locals(b, out);
        }
        ExprKind::Block(stmts, value) => {
            stmts.iter().for_each(|s| stmt_locals(s, out));
            locals(value, out);
        }
    }
}

fn callee_locals(c: &Callee, out: &mut Vec<LocalId>) {
    match c {
        Callee::Fn(_) => {}
        Callee::Lambda { body, .. } => locals(body, out),
        Callee::Transform { inner, .. } => callee_locals(inner, out),
    }
}

fn stmt_locals(s: &BlockStmt, out: &mut Vec<LocalId>) {
    match s {
        BlockStmt::Let(_, e) | BlockStmt::Assign(_, e) => locals(e, out),
        BlockStmt::For { body, .. } => body.iter().for_each(|s| stmt_locals(s, out)),
    }
}
