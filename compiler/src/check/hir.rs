//! The checked program: every name resolved, every expression typed with a concrete
//! shape, every generic function monomorphised into [`FnInstance`]s.
//!
//! Architecture Invariant: nothing here is weakly typed or generic; lowering to the IR
//! needs no more inference. Function-valued expressions (names, lambdas, derivative
//! operators) exist only as [`Callee`]s of calls, each instantiated at its argument types.

use std::path::PathBuf;

use super::types::{Elem, Ty};
use crate::source::Span;
use crate::syntax::ast::{BinOp, UnOp};

macro_rules! id {
    ($($name:ident),*) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}
id!(LocalId, FnId, ParamId, DataId);

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub params: Vec<ParamDecl>,
    pub data: Vec<DataDecl>,
    pub fns: Vec<FnInstance>,
    /// The statements, in source order.
    pub stmts: Vec<Stmt>,
}

#[derive(Clone, Debug)]
pub struct ParamDecl {
    pub name: String,
    pub ty: super::types::TensorTy,
    pub init: Init,
    pub span: Span,
}

/// A parameter initialiser. Random ones draw from the run's seed.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    Fill(f64),
    Normal { mean: f64, std: f64 },
    Uniform { lo: f64, hi: f64 },
    /// Glorot/Xavier uniform: U(±sqrt(6 / (fan_in + fan_out))).
    Glorot,
    /// He/Kaiming normal: N(0, 2 / fan_in).
    He,
    Bernoulli(f64),
    /// Row-major values of a literal of exactly the param's shape.
    Literal(Vec<f64>),
}

#[derive(Clone, Debug)]
pub struct DataDecl {
    pub name: String,
    pub ty: super::types::TensorTy,
    pub source: DataSource,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// Columns selected by header name, in the given order, or all.
    Csv { path: PathBuf, header: bool, columns: Option<Vec<String>> },
    Npy { path: PathBuf },
    Normal { mean: f64, std: f64, seed: u64 },
    Uniform { lo: f64, hi: f64, seed: u64 },
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub ty: Ty,
    pub span: Span,
}

/// An expression with the table of the locals it binds (a function body, or the
/// expression of a statement).
#[derive(Clone, Debug)]
pub struct Body {
    pub locals: Vec<Local>,
    pub value: Expr,
}

/// One monomorphised function.
#[derive(Clone, Debug)]
pub struct FnInstance {
    /// The source name with its generic bindings, e.g. `model[B=32]`.
    pub name: String,
    pub span: Span,
    pub params: Vec<LocalId>,
    pub ret: Ty,
    pub body: Body,
    /// A user forward rule; its locals live in `body.locals`.
    pub jvp_rule: Option<JvpRule>,
}

#[derive(Clone, Debug)]
pub struct JvpRule {
    pub primals: Vec<LocalId>,
    pub tangents: Vec<LocalId>,
    pub value: Expr,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Literal {
    Float(f64),
    Int(i64),
    Bool(bool),
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Literal(Literal),
    /// `[a, b, …]`: the elements stacked along a new first axis.
    Tensor(Vec<Expr>),
    Local(LocalId),
    Param(ParamId),
    Data(DataId),
    Unary(UnOp, Box<Expr>),
    /// Elementwise with broadcasting (arithmetic, comparisons, logic), or `@`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x ^ n` with a compile-time integer `n`: exact repeated multiplication.
    PowInt(Box<Expr>, i64),
    /// A built-in function; its attributes (axis, shape, …) are in the variant.
    Builtin(Builtin, Vec<Expr>),
    /// Conversion to the element type of the expression's own type.
    Convert(Box<Expr>),
    Call(Box<Callee>, Vec<Expr>),
    Index(Box<Expr>, Vec<Subscript>),
    Tuple(Vec<Expr>),
    /// A scalar condition evaluates one branch; a tensor condition selects elementwise.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Block(Vec<BlockStmt>, Box<Expr>),
    /// A fresh random draw at every training step (train arguments only).
    Random(RandomDraw),
}

#[derive(Clone, Debug, PartialEq)]
pub enum RandomDraw {
    Normal { mean: f64, std: f64 },
    Uniform { lo: f64, hi: f64 },
    /// ±1 with equal odds: the directions of `laplacian(f, samples = S)`, which lowering
    /// makes (never the checker).
    Rademacher,
}

#[derive(Clone, Debug)]
pub enum Subscript {
    /// A scalar `i64` index (negative constants count from the end, already resolved);
    /// out of range at run time is an error.
    Index(Expr),
    /// `lo..hi` with compile-time bounds, already clamped and checked.
    Slice { lo: usize, hi: usize },
}

/// A statement of a block.
#[derive(Clone, Debug)]
pub enum BlockStmt {
    Let(Pattern, Expr),
    Assign(LocalId, Expr),
    /// `for var in lo..hi { body }`; bounds are compile-time. The checker emits one per
    /// unrolled iteration (`hi == lo + 1`), each body checked with `var` known.
    For { var: LocalId, lo: i64, hi: i64, body: Vec<BlockStmt> },
}

#[derive(Clone, Debug)]
pub enum Pattern {
    Local(LocalId),
    /// `_`
    Ignore,
    Tuple(Vec<Pattern>),
}

/// What a call calls: a function instance, a lambda, or a derivative operator.
#[derive(Clone, Debug)]
pub enum Callee {
    Fn(FnId),
    /// A lambda, instantiated at this call's argument types; its locals (and those it
    /// captures) live in the enclosing body's table.
    Lambda { params: Vec<LocalId>, body: Expr },
    Transform { op: Transform, inner: Box<Callee>, inner_sig: Sig },
}

/// A function's parameter and result types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sig {
    pub params: Vec<Ty>,
    pub ret: Ty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JacobianMode {
    Forward,
    Reverse,
}

/// A derivative operator or `vmap`, with its compile-time options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    Grad { wrt: usize },
    ValueAndGrad { wrt: usize },
    Jvp,
    Vjp,
    Jacobian { wrt: usize, mode: JacobianMode },
    Hessian { wrt: usize },
    Hvp { wrt: usize },
    /// `jet`: the second argument holds `order` series coefficients rather than one direction.
    Taylor { order: usize, jet: bool },
    Diff { n: usize },
    Laplacian { samples: Option<usize> },
    RGrad { wrt: usize },
    /// `size`: the number of entries along `axis` (the same in every argument).
    Vmap { axis: usize, size: usize },
}

impl Transform {
    pub fn name(self) -> &'static str {
        match self {
            Transform::Grad { .. } => "grad",
            Transform::ValueAndGrad { .. } => "value_and_grad",
            Transform::Jvp => "jvp",
            Transform::Vjp => "vjp",
            Transform::Jacobian { .. } => "jacobian",
            Transform::Hessian { .. } => "hessian",
            Transform::Hvp { .. } => "hvp",
            Transform::Taylor { .. } => "taylor",
            Transform::Diff { .. } => "diff",
            Transform::Laplacian { .. } => "laplacian",
            Transform::RGrad { .. } => "rgrad",
            Transform::Vmap { .. } => "vmap",
        }
    }
}

/// Elementwise functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryFn {
    Exp, Log, Sin, Cos, Tan, Tanh, Sigmoid, Relu, Softplus, Gelu, Sqrt, Abs, Sign, Floor,
    Ceil, Erf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum, Mean, Prod, Max, Min, LogSumExp, ArgMax,
    /// AND over `bool`.
    All,
    /// OR over `bool`.
    Any,
    /// XOR over `bool`.
    Parity,
}

/// A built-in function with its compile-time attributes resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Builtin {
    Unary(UnaryFn),
    /// Elementwise `max(a, b)` / `min(a, b)` (ties take the first argument's derivative).
    Max2,
    Min2,
    Pow,
    Clamp,
    Xor,
    /// Over one axis, or all axes when `None`.
    Reduce { op: ReduceOp, axis: Option<usize> },
    Reshape,
    /// Reverses the axes (for a matrix, swaps them).
    Transpose,
    Concat { axis: usize },
    Stack { axis: usize },
    /// To the expression's own shape.
    Broadcast,
    /// `one_hot(i, n)`: the expression's type has the trailing `n`.
    OneHot,
    /// A constant-filled tensor of the expression's own type.
    Fill(f64),
    /// `0, 1, …, n-1` in the expression's own type.
    Range,
}

/// A statement of the program, run top to bottom.
#[derive(Clone, Debug)]
pub enum Stmt {
    Print { items: Vec<PrintItem>, span: Span },
    Assert { cond: Body, span: Span },
    Train(Box<Train>),
    Save { path: PathBuf, span: Span },
    Load { path: PathBuf, span: Span },
    Bench { call: Body, iters: Option<usize>, label: String, span: Span },
}

#[derive(Clone, Debug)]
pub enum PrintItem {
    Text(String),
    Value(Body),
}

#[derive(Clone, Debug)]
pub struct Train {
    /// The loss, instantiated at the batched argument types.
    pub loss: Callee,
    /// The table of the locals a lambda loss binds (its parameters and `let`s; a named loss
    /// has none): the train statement is the lambda's enclosing body, so they live here.
    pub loss_locals: Vec<Local>,
    pub loss_sig: Sig,
    pub loss_name: String,
    pub args: Vec<TrainArg>,
    pub options: TrainOptions,
    pub span: Span,
}

/// A loss argument, evaluated whole; `batched` ones are sliced along their first axis.
#[derive(Clone, Debug)]
pub struct TrainArg {
    pub value: Body,
    pub batched: bool,
}

#[derive(Clone, Debug)]
pub enum Length {
    Steps(usize),
    Epochs(usize),
}

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub optimizer: Optimizer,
    pub length: Length,
    pub batch: Option<usize>,
    pub seed: Option<u64>,
    pub shuffle: bool,
    pub log_every: Option<usize>,
    pub checkpoint: Option<PathBuf>,
    pub checkpoint_every: Option<usize>,
    pub plot: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub validate: Option<Body>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Optimizer {
    pub name: String,
    pub lr: Option<Schedule>,
    /// The other options by name (`momentum`, `clip`, `history`, …), all numbers.
    pub options: Vec<(String, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    Constant(f64),
    Cosine { lr: f64, steps: usize },
    StepDecay { lr: f64, every: usize, factor: f64 },
}

impl Expr {
    pub fn elem(&self) -> Elem {
        match &self.ty {
            Ty::Tensor(t) => t.elem,
            Ty::Tuple(_) => Elem::F64,
        }
    }
}
