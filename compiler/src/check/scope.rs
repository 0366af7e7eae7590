//! Local scopes of a body being checked: its locals table, the nested scopes of `let`s and
//! lambdas, the generic bindings and compile-time parameters of the function instance.

use std::rc::Rc;

use super::consts::ConstValue;
use super::hir::{Local, LocalId};
use super::types::{Elem, Ty};
use super::FileIdx;
use crate::source::Span;
use crate::syntax::ast;

/// A function-valued expression, not yet instantiated: it is checked at the argument
/// types of the call that uses it.
#[derive(Clone, Debug)]
pub(super) enum FnValue {
    /// A `fn` item.
    Decl(usize),
    /// A lambda with the scopes it was written in (it may read their locals).
    Lambda { params: Rc<Vec<ast::LambdaParam>>, body: Rc<ast::Expr>, scopes: Rc<Vec<Scope>>, span: Span },
    /// A built-in elementwise function used as a value, e.g. `diff(sin, 3)`.
    Builtin(String, Span),
    /// A derivative operator or `vmap` applied to a function.
    Transform { op: TransformSpec, inner: Box<FnValue>, span: Span },
}

/// A derivative operator as written, before its function's types are known.
#[derive(Clone, Debug)]
pub(super) struct TransformSpec {
    pub name: String,
    pub wrt: Option<(usize, Span)>,
    /// `order` of taylor, `n` of diff.
    pub order: Option<usize>,
    pub samples: Option<usize>,
    pub axis: Option<usize>,
}

/// What a local name stands for.
#[derive(Clone, Debug)]
pub(super) enum Binding {
    Value { id: LocalId, mutable: bool },
    Const(ConstValue),
    /// The variable of a `for` loop in one unrolled iteration: an `i64` known at compile
    /// time (loops are checked once per iteration, so bounds and shapes may use it).
    LoopVar { id: LocalId, value: i64 },
    Fn(FnValue),
    /// A name whose definition had an error: uses are not reported again.
    Poisoned,
}

pub(super) type Scope = Vec<(String, Binding)>;

/// The state of one body being checked.
pub(super) struct BodyCtx {
    pub file: FileIdx,
    pub locals: Vec<Local>,
    pub scopes: Vec<Scope>,
    /// The float type bound to a float generic (`F`), by name.
    pub float_generics: Vec<(String, Elem)>,
    /// Rest-of-shape generics (`..S`), by name.
    pub rest_generics: Vec<(String, Vec<usize>)>,
    /// Random draws (`uniform`, `normal`) are allowed: the arguments of `train`.
    pub allow_random: bool,
}

impl BodyCtx {
    pub fn new(file: FileIdx) -> BodyCtx {
        BodyCtx { file, locals: Vec::new(), scopes: vec![Vec::new()], float_generics: Vec::new(), rest_generics: Vec::new(), allow_random: false }
    }

    pub fn new_local(&mut self, name: &str, ty: Ty, span: Span) -> LocalId {
        self.locals.push(Local { name: name.to_string(), ty, span });
        LocalId(self.locals.len() as u32 - 1)
    }

    pub fn bind(&mut self, name: &str, binding: Binding) {
        if name == "_" {
            return;
        }
        self.scopes.last_mut().expect("a body always has a scope").push((name.to_string(), binding));
    }

    pub fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().flat_map(|s| s.iter().rev()).find(|(n, _)| n == name).map(|(_, b)| b)
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    pub fn local_ty(&self, id: LocalId) -> &Ty {
        &self.locals[id.index()].ty
    }

    /// Every name visible here (for "did you mean" hints).
    pub fn visible_names(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().flat_map(|s| s.iter().map(|(n, _)| n.as_str()))
    }

    pub fn float_generic(&self, name: &str) -> Option<Elem> {
        self.float_generics.iter().find(|(n, _)| n == name).map(|(_, e)| *e)
    }

    pub fn rest_generic(&self, name: &str) -> Option<&Vec<usize>> {
        self.rest_generics.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely typo.
pub(super) fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    // One edit per three letters, rounded up past the first: `modle` finds `model`,
    // while one- and two-letter names get no guesses.
    let limit = (name.chars().count() + 1) / 3;
    candidates
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j])).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn closest_finds_typos() {
        assert_eq!(super::closest("modle", ["model", "loss", "x"].into_iter()), Some("model".into()));
        assert_eq!(super::closest("q", ["model"].into_iter()), None);
    }
}
