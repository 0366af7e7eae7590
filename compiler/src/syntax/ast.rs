//! The abstract syntax tree, as parsed. Every node carries its [`Span`].
//!
//! The AST is what the user wrote, nothing resolved: names are strings, types are as
//! spelled. The checker turns it into the typed, monomorphised program.

use std::rc::Rc;

use crate::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `a` or `nn::dense`.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `use nn;`
    UseModule(Ident),
    /// `use "layers.gd";` — the path as written and its span.
    UseFile(String, Span),
    /// `const N = 16;` / `const C: f64[2] = [1, 2];`
    Const { name: Ident, ty: Option<Type>, value: Expr },
    /// `param w: f32[4, 16] = glorot();`
    Param { name: Ident, ty: Type, init: Expr },
    /// `data d = csv("f.csv", header = true);` — the source is a call expression.
    Data { name: Ident, source: Expr },
    /// Shared, so the checker keeps the declaration without copying its body.
    Fn(Rc<FnDecl>),
    /// `fn df = grad(f);`
    DerivedFn { name: Ident, value: Expr },
    /// `train loss(x, y) { optimizer = adam(lr = 0.1), steps = 500 }` — `call` is the loss call.
    Train { call: Expr, options: Vec<OptionItem> },
    /// `print "w", w;`
    Print(Vec<Expr>),
    Assert(Expr),
    /// `save "params.safetensors";`
    Save(String, Span),
    /// `load "params.safetensors";`
    Load(String, Span),
    /// `bench e;` / `bench e { iters = 200 }`
    Bench { expr: Expr, options: Vec<OptionItem> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FnDecl {
    pub name: Ident,
    pub generics: Vec<Generic>,
    pub params: Vec<Param>,
    /// `-> T`; without it the result type is inferred from the body.
    pub ret: Option<Type>,
    pub body: Block,
    pub jvp_rule: Option<JvpRule>,
}

/// `with jvp(x, dx) { … }`: the primals, then the tangents, one per parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct JvpRule {
    pub args: Vec<Ident>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum GenericKind {
    /// `N`: a dimension, also usable as a compile-time integer.
    Dim,
    /// `F: float`: `f32` or `f64`.
    Float,
    /// `..S`: any number of dimensions.
    Rest,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Generic {
    pub name: Ident,
    pub kind: GenericKind,
    pub span: Span,
}

/// A function parameter: `x: f64[N]`, or `axis: i64 = -1` with a compile-time default.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: Type,
    pub default: Option<Expr>,
    pub span: Span,
}

/// A lambda parameter: `x` or `x: f64[3]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaParam {
    pub name: Ident,
    pub ty: Option<Type>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Type {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// `f64`, `F`, `f32[B, 784]`, `F[..S]`: an element type name and, for tensors, dims.
    Tensor { elem: Ident, dims: Option<Vec<Dim>> },
    /// `(f64, f64[3])`
    Tuple(Vec<Type>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    Lit(i64, Span),
    Name(Ident),
    /// `..S`
    Rest(Ident),
}

/// `name = value` in a `train` or `bench` option block.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionItem {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    /// The block's value. `for` bodies have none; every other block has one.
    pub value: Option<Box<Expr>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let p = e;`, `let p: T = e;`, `let mut x = e;`
    Let { pat: Pattern, mutable: bool, ty: Option<Type>, value: Expr },
    /// `x = e;`
    Assign { name: Ident, value: Expr },
    /// `for i in lo..hi { … }`
    For { var: Ident, lo: Expr, hi: Expr, body: Block },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Name(Ident),
    Tuple(Vec<Pattern>, Span),
}

impl Pattern {
    pub fn span(&self) -> Span {
        match self {
            Pattern::Name(i) => i.span,
            Pattern::Tuple(_, s) => *s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    MatMul,
    Rem,
    Pow,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Or => "|", And => "&", Eq => "==", Ne => "!=", Lt => "<", Le => "<=", Gt => ">",
            Ge => ">=", Add => "+", Sub => "-", Mul => "*", Div => "/", MatMul => "@",
            Rem => "%", Pow => "^",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

/// A call argument: positional, or named (`axis = 0`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// One subscript of `x[…]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Subscript {
    /// `x[i]`
    Index(Expr),
    /// `x[a:b]`, `x[:b]`, `x[a:]`, `x[:]`
    Slice { lo: Option<Expr>, hi: Option<Expr>, span: Span },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Name(Path),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call { callee: Box<Expr>, args: Vec<Arg> },
    Index { base: Box<Expr>, subscripts: Vec<Subscript> },
    /// `x.T`
    Transpose(Box<Expr>),
    /// `(a, b)`; `(a)` is just `a` in parentheses and parses as `Paren`.
    Tuple(Vec<Expr>),
    /// `(e)`, kept so that `(a < b) < c` is not mistaken for a chained comparison.
    Paren(Box<Expr>),
    /// `[a, b]`
    TensorLit(Vec<Expr>),
    /// `if c { a } else { b }`; an `else if` chain nests in `otherwise`.
    If { cond: Box<Expr>, then: Block, otherwise: Box<Expr> },
    Block(Block),
    /// `|x, y: f64| body`
    Lambda { params: Vec<LambdaParam>, body: Box<Expr> },
    /// Stands where the parser recovered from a syntax error; the checker skips it.
    Error,
}
