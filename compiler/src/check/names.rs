//! A name check for generic functions that nothing instantiates: without argument types
//! their bodies cannot be typed, but every name in them can still be resolved, so a typo
//! in an unused generic function is reported all the same.

use super::scope::{closest, BodyCtx, Binding};
use super::Checker;
use crate::diag::{codes, Diagnostic};
use crate::syntax::ast::{self, ExprKind as E, StmtKind};

impl Checker<'_> {
    pub(super) fn check_names_only(&mut self, decl: &ast::FnDecl, file: super::FileIdx) {
        let mut cx = BodyCtx::new(file);
        for g in &decl.generics {
            cx.bind(&g.name.name, Binding::Poisoned);
        }
        for p in &decl.params {
            cx.bind(&p.name.name, Binding::Poisoned);
        }
        self.names_block(&mut cx, &decl.body);
        if let Some(rule) = &decl.jvp_rule {
            cx.push_scope();
            for a in &rule.args {
                cx.bind(&a.name, Binding::Poisoned);
            }
            self.names_block(&mut cx, &rule.body);
        }
    }

    fn names_block(&mut self, cx: &mut BodyCtx, b: &ast::Block) {
        cx.push_scope();
        for s in &b.stmts {
            match &s.kind {
                StmtKind::Let { pat, value, .. } => {
                    self.names_expr(cx, value);
                    bind_pattern(cx, pat);
                }
                StmtKind::Assign { name, value } => {
                    self.names_expr(cx, value);
                    self.name_use(cx, name);
                }
                StmtKind::For { var, lo, hi, body } => {
                    self.names_expr(cx, lo);
                    self.names_expr(cx, hi);
                    cx.push_scope();
                    cx.bind(&var.name, Binding::Poisoned);
                    self.names_block(cx, body);
                    cx.pop_scope();
                }
            }
        }
        if let Some(v) = &b.value {
            self.names_expr(cx, v);
        }
        cx.pop_scope();
    }

    fn names_expr(&mut self, cx: &mut BodyCtx, e: &ast::Expr) {
        match &e.kind {
            E::Name(path) if path.segments.len() == 1 => self.name_use(cx, &path.segments[0]),
            E::Name(path) => {
                self.lookup_qualified(cx.file, path);
            }
            E::Unary(_, a) | E::Paren(a) | E::Transpose(a) => self.names_expr(cx, a),
            E::Binary(_, a, b) => {
                self.names_expr(cx, a);
                self.names_expr(cx, b);
            }
            E::Call { callee, args } => {
                self.names_expr(cx, callee);
                for a in args {
                    // Named arguments of built-ins (`axis`, `dtype = f32`) are not names in scope.
                    if a.name.as_ref().is_some_and(|n| n.name == "dtype") {
                        continue;
                    }
                    self.names_expr(cx, &a.value);
                }
            }
            E::Index { base, subscripts } => {
                self.names_expr(cx, base);
                for s in subscripts {
                    match s {
                        ast::Subscript::Index(i) => self.names_expr(cx, i),
                        ast::Subscript::Slice { lo, hi, .. } => lo.iter().chain(hi).for_each(|x| self.names_expr(cx, x)),
                    }
                }
            }
            E::Tuple(items) | E::TensorLit(items) => items.iter().for_each(|i| self.names_expr(cx, i)),
            E::If { cond, then, otherwise } => {
                self.names_expr(cx, cond);
                self.names_block(cx, then);
                self.names_expr(cx, otherwise);
            }
            E::Block(b) => self.names_block(cx, b),
            E::Lambda { params, body } => {
                cx.push_scope();
                for p in params {
                    cx.bind(&p.name.name, Binding::Poisoned);
                }
                self.names_expr(cx, body);
                cx.pop_scope();
            }
            E::Int(_) | E::Float(_) | E::Bool(_) | E::Str(_) | E::Error => {}
        }
    }

    fn name_use(&mut self, cx: &BodyCtx, name: &ast::Ident) {
        if cx.lookup(&name.name).is_some() || super::builtins::is_builtin(&name.name) || ["f64", "f32", "i64", "bool"].contains(&name.name.as_str()) {
            return;
        }
        if self.lookup_global(cx.file, name).is_some() {
            return;
        }
        let mut d = Diagnostic::new(codes::UNKNOWN_NAME, format!("unknown name `{}`", name.name), name.span, "not defined");
        let candidates: Vec<String> = cx.visible_names().map(str::to_string).chain(self.files[cx.file].own.keys().cloned()).collect();
        if let Some(s) = closest(&name.name, candidates.iter().map(String::as_str)) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        }
        self.error(d);
    }
}

fn bind_pattern(cx: &mut BodyCtx, p: &ast::Pattern) {
    match p {
        ast::Pattern::Name(n) => cx.bind(&n.name, Binding::Poisoned),
        ast::Pattern::Tuple(items, _) => items.iter().for_each(|i| bind_pattern(cx, i)),
    }
}
