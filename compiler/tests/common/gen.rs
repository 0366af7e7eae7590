//! Random well-typed `gd` programs, for property tests of everything after the checker: the
//! derivative passes against finite differences and against each other, the simplifier and
//! the JIT against the reference interpreter.
//!
//! A program is built as a typed expression tree in Rust first — every node knows its shape —
//! and only then printed to `gd` source, so every program checks by construction, and so does
//! every program the shrinker makes from it (the shrinker replaces a node by a leaf or by a
//! child of the same shape, always in scope). The strategy is [`program`] /
//! [`program_smooth`] (or [`program_with`]); [`generate`] gives one program from a seed
//! without proptest.
//!
//! Each program defines `fn f(a0: f64[..], a1: …) -> T` (`T` = `f64` for scalar-output
//! programs, else some `f64` tensor), possibly helper functions that `f` calls (generic ones,
//! often instantiated at two shapes), and `use nn;` when it calls `softmax`.
//!
//! Numerical safety, for finite differences: inputs are in [-2, 2] ([`random_args`]); every
//! node carries a bound on `|value|` (interval reasoning from the inputs' bound) and a node
//! whose bound passes [`LIMIT`] is squashed (`tanh(e)`, or `e * 0.01`); singular functions are
//! written in safe forms — `log(1.0 + e ^ 2)`, `sqrt(1.0 + e ^ 2)`, `a / (1.0 + b ^ 2)`,
//! `(1.0 + a ^ 2) ^ tanh(b)`, `exp(tanh(e))`, `tan(0.5 * tanh(e))`, and a negative integer
//! power only of `(1.0 + e ^ 2)`. Non-smooth ops (relu, abs, sign, floor, ceil, max, min,
//! clamp, comparisons, `if`, argmax) are allowed unless the program is generated smooth;
//! [`GenProgram::smooth`] says whether there are any.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use gradc_compiler::check::check_source;
use gradc_compiler::check::hir::FnId;
use gradc_compiler::diag::render_all;
use gradc_compiler::interp::{self, Inputs};
use gradc_compiler::ir::Graph;
use gradc_compiler::lower::lower_fn;
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{DType, Tensor};
use proptest::prelude::Rng as _;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;

// ---------------------------------------------------------------------------------------------
// The public API

/// One argument of `f`: an `f64` tensor of this shape (`[]` is a scalar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    pub shape: Vec<usize>,
}

/// A generated program.
#[derive(Clone)]
pub struct GenProgram {
    /// The whole `gd` file.
    pub source: String,
    /// `f`'s arguments, in order.
    pub args: Vec<ArgSpec>,
    /// Whether `f` returns a scalar `f64`.
    pub out_scalar: bool,
    /// The shape of `f`'s result (`[]` when `out_scalar`).
    pub out_shape: Vec<usize>,
    /// No non-smooth op anywhere (relu, abs, sign, floor, ceil, max, min, clamp, a comparison,
    /// `if`, argmax): derivatives exist everywhere and finite differences approximate them.
    pub smooth: bool,
    /// The constructs the program uses (`"matmul_mv"`, `"loop"`, `"gather"`, …; see
    /// [`ALL_FEATURES`]), for coverage and for checkers that skip some.
    pub features: BTreeSet<&'static str>,
    /// The number of nodes of the expression trees of `f` and its helpers.
    pub size: usize,
}

impl fmt::Debug for GenProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<String> = self.args.iter().map(|a| shape_list(&a.shape)).collect();
        writeln!(f, "GenProgram (args {}, smooth {}):", shapes.join(" "), self.smooth)?;
        f.write_str(&self.source)
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// The nesting depth of expressions under `f`'s body (4–5 keeps values O(1)–O(100)).
    pub max_depth: u32,
    /// `f` returns a scalar (for `grad`, `hessian`) rather than a tensor.
    pub scalar_out: bool,
    /// Only smooth ops (see [`GenProgram::smooth`]).
    pub smooth_only: bool,
}

/// Programs over the whole op table, non-smooth ops included.
pub fn program(max_depth: u32, scalar_out: bool) -> ProgramStrategy {
    program_with(GenOptions { max_depth, scalar_out, smooth_only: false })
}

/// Programs of smooth ops only.
pub fn program_smooth(max_depth: u32, scalar_out: bool) -> ProgramStrategy {
    program_with(GenOptions { max_depth, scalar_out, smooth_only: true })
}

pub fn program_with(opts: GenOptions) -> ProgramStrategy {
    ProgramStrategy(opts)
}

/// One program from a seed, without proptest.
pub fn generate(seed: u64, opts: GenOptions) -> GenProgram {
    render(&gen_prog(seed, opts))
}

/// Arguments for `p`'s `f`, each element uniform in [-2, 2], from a seeded generator.
pub fn random_args(p: &GenProgram, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::seed_from_u64(seed);
    p.args
        .iter()
        .map(|a| {
            let n: usize = a.shape.iter().product();
            let vals: Vec<f64> = (0..n).map(|_| rng.uniform_range(-ARG_BOUND, ARG_BOUND)).collect();
            Tensor::from_f64s(DType::F64, a.shape.clone(), &vals).expect("values fit the shape")
        })
        .collect()
}

/// Checks `p` and lowers its `f`; `Err` has the source and the rendered diagnostics.
pub fn try_compile(p: &GenProgram) -> Result<Graph, String> {
    let checked = check_source("gen.gd", &p.source, std::env::temp_dir());
    if !checked.is_ok() {
        return Err(format!("{}\n{}", p.source, checked.render(false)));
    }
    let Some(i) = checked.program.fns.iter().position(|f| f.name == "f") else {
        return Err(format!("{}\nno instance named `f`", p.source));
    };
    lower_fn(&checked.program, FnId(i as u32)).map_err(|d| format!("{}\n{}", p.source, render_all(&[*d], &checked.sources, false)))
}

/// Checks `p` and lowers its `f`. Panics (with the source and the diagnostics) if it does not
/// check clean: a bug of the generator.
pub fn compile(p: &GenProgram) -> Graph {
    try_compile(p).unwrap_or_else(|e| panic!("generated program does not compile:\n{e}"))
}

/// Runs `g` on `args` with the reference interpreter; `Err` names the failing node.
pub fn try_eval(g: &Graph, args: &[Tensor]) -> Result<Vec<Tensor>, String> {
    interp::run(g, &Inputs { args, params: &[], data: &[] }).map_err(|(n, e)| format!("node %{}: {e}", n.index()))
}

/// Runs `g` on `args` with the reference interpreter; panics if evaluation fails.
pub fn eval(g: &Graph, args: &[Tensor]) -> Vec<Tensor> {
    try_eval(g, args).unwrap_or_else(|e| panic!("evaluation failed: {e}"))
}

/// Every name [`GenProgram::features`] can hold: the elementwise functions by name (`neg` is
/// unary minus), `add`…`div`, `broadcasting` (operands of different shapes), `powi` /
/// `powi_neg` / `powi_zero` (`x ^ n`), `pow` / `pow_fn` (`^` / `pow` of a float exponent),
/// `max2` / `min2` (binary), the reductions by name (`max` / `min` are reductions) with
/// `reduce_axis` / `reduce_neg_axis`, the matrix products by operand ranks, the shape ops,
/// `index` (`x[j]`), `index2` (`x[i, j]`), `slice` (`x[a:b]`), `slice_col` (`x[:, j]`),
/// `index_slice` (`x[j, a:b]`), `loop_row` (`x[i]` with a loop variable), `loop_index`
/// (`f64(i)`), `gather` (`x[argmax(y)]`), `argmax` / `argmax_axis` (`f64(argmax(…))`),
/// `if_scalar` (`if sum(c) > k`), `select` (elementwise `if`), `let`, `let_tuple`, `loop`,
/// `call` (a generic helper), `generic_two_instances` (one called at two shapes), `lambda` /
/// `lambda_untyped`, `softmax` / `log_softmax` / `nn_qualified`, `literal`, `tensor_literal`.
pub const ALL_FEATURES: &[&str] = &[
    "neg", "exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "softplus", "gelu", "sqrt", "abs", "erf",
    "sign", "floor", "ceil", "add", "sub", "mul", "div", "broadcasting", "powi", "powi_neg", "powi_zero", "pow",
    "pow_fn", "max2", "min2", "clamp", "sum", "mean", "prod", "max", "min", "logsumexp", "reduce_axis",
    "reduce_neg_axis", "matmul_vv", "matmul_mv", "matmul_vm", "matmul_mm", "matmul_batch", "transpose_T",
    "transpose_fn", "reshape", "broadcast", "concat", "stack", "index", "index2", "slice", "slice_col",
    "index_slice", "gather", "argmax", "argmax_axis", "if_scalar", "select", "let", "let_tuple", "loop",
    "loop_row", "loop_index", "call", "generic_two_instances", "lambda", "lambda_untyped", "softmax",
    "log_softmax", "nn_qualified", "literal", "tensor_literal",
];

// ---------------------------------------------------------------------------------------------
// The proptest strategy and its value tree

#[derive(Clone, Copy, Debug)]
pub struct ProgramStrategy(GenOptions);

impl Strategy for ProgramStrategy {
    type Tree = ProgramTree;
    type Value = GenProgram;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let seed = runner.rng().next_u64();
        Ok(ProgramTree::new(gen_prog(seed, self.0)))
    }
}

/// A generated program and its shrinking state. Shrinking tries, one at a time, programs one
/// step simpler than the last failing one: a node replaced by a variable or constant of its
/// shape, or by a child of its shape; a loop with one iteration; an unused helper or argument
/// dropped. Every step removes something, so shrinking ends.
#[derive(Clone, Debug)]
pub struct ProgramTree {
    /// The simplest program known to fail.
    base: Prog,
    cur: Prog,
    candidates: Vec<Prog>,
    next: usize,
}

impl ProgramTree {
    fn new(p: Prog) -> ProgramTree {
        ProgramTree { base: p.clone(), cur: p, candidates: Vec::new(), next: 0 }
    }

    fn advance(&mut self) -> bool {
        match self.candidates.get(self.next) {
            Some(c) => {
                self.cur = c.clone();
                self.next += 1;
                true
            }
            None => false,
        }
    }
}

impl ValueTree for ProgramTree {
    type Value = GenProgram;

    fn current(&self) -> GenProgram {
        render(&self.cur)
    }

    /// Called when `current` fails: it becomes the base, and the first simpler candidate is
    /// next.
    fn simplify(&mut self) -> bool {
        self.base = self.cur.clone();
        self.candidates = shrink_candidates(&self.base);
        self.next = 0;
        self.advance()
    }

    /// Called when `current` passes: the next candidate, or back to the base.
    fn complicate(&mut self) -> bool {
        if self.advance() {
            true
        } else {
            self.cur = self.base.clone();
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes

type Shape = Vec<usize>;

/// The shape `..S` of a generic helper's body, written as this one-element marker.
const POLY: usize = usize::MAX;
/// The largest number of elements a generic helper is instantiated at.
const POLY_NUMEL: usize = 9;
/// The bound on `|value|` of every node.
pub const LIMIT: f64 = 100.0;
/// Arguments are in [-ARG_BOUND, ARG_BOUND].
pub const ARG_BOUND: f64 = 2.0;
/// The bound of loop accumulators and of helper arguments.
const SB: f64 = 10.0;

/// Shapes of arguments, `let` values and lambda parameters.
const SHAPES: &[&[usize]] = &[&[], &[2], &[3], &[4], &[2, 3], &[3, 2], &[2, 2], &[1, 3], &[3, 3]];
/// Tensor-shaped results of `f`.
const OUT_SHAPES: &[&[usize]] = &[&[2], &[3], &[4], &[2, 3], &[3, 2], &[2, 2], &[2, 1]];

fn poly() -> Shape {
    vec![POLY]
}

fn is_poly(s: &[usize]) -> bool {
    s.first() == Some(&POLY)
}

fn numel(s: &[usize]) -> usize {
    if is_poly(s) {
        POLY_NUMEL
    } else {
        s.iter().product()
    }
}

/// NumPy broadcasting; `..S` only with itself or a scalar.
fn broadcast(a: &[usize], b: &[usize]) -> Option<Shape> {
    if is_poly(a) || is_poly(b) {
        let ok = (is_poly(a) || a.is_empty()) && (is_poly(b) || b.is_empty());
        return ok.then(poly);
    }
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| if i < n - s.len() { 1 } else { s[i - (n - s.len())] };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y) = (at(a, i), at(b, i));
        out.push(if x == y || y == 1 {
            x
        } else if x == 1 {
            y
        } else {
            return None;
        });
    }
    Some(out)
}

/// Every shape that broadcasts to `t` (`t` first): suffixes of `t`, with any dimensions 1.
fn parents(t: &[usize]) -> Vec<Shape> {
    if is_poly(t) {
        return vec![poly(), vec![]];
    }
    let mut out = vec![t.to_vec()];
    for k in (0..=t.len()).rev() {
        let suffix = &t[t.len() - k..];
        for mask in 0..(1u32 << k) {
            let s: Shape = suffix.iter().enumerate().map(|(i, &d)| if mask >> i & 1 == 1 { 1 } else { d }).collect();
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Shapes of rank 1–3 with as many elements as `t`, other than `t`.
fn reshape_sources(t: &[usize]) -> Vec<Shape> {
    let n = numel(t);
    let mut out = vec![vec![n]];
    for a in (1..=n).filter(|a| n.is_multiple_of(*a)) {
        out.push(vec![a, n / a]);
        let r = n / a;
        for b in (1..=r).filter(|b| r.is_multiple_of(*b)) {
            out.push(vec![a, b, r / b]);
        }
    }
    out.retain(|s| s != t);
    out.dedup();
    out
}

/// A way of making a value of one shape into another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Broadcast,
    /// `reshape`, or `.T` where that fits.
    Reshape,
    /// `x[j]`
    Row,
    /// `x[i, j]`
    Element,
    /// `x[:, j]`
    Column,
    /// `x[lo:hi]`
    Slice,
    /// `broadcast(sum(x), t)`
    Reduce,
}

/// The shape ops (no reduction) that make shape `s` into shape `t`.
fn shape_forms(s: &[usize], t: &[usize]) -> Vec<Form> {
    let mut forms = Vec::new();
    if is_poly(s) || is_poly(t) || s == t {
        return forms;
    }
    if t.len() >= s.len() && broadcast(s, t).as_deref() == Some(t) {
        forms.push(Form::Broadcast);
    }
    if numel(s) == numel(t) && !t.is_empty() {
        forms.push(Form::Reshape);
    }
    if s.len() == t.len() + 1 && s[1..] == *t {
        forms.push(Form::Row);
    }
    if s.len() == 2 && t.is_empty() {
        forms.push(Form::Element);
    }
    if s.len() == 2 && t == [s[0]] {
        forms.push(Form::Column);
    }
    if !t.is_empty() && s.len() == t.len() && s[1..] == t[1..] && t[0] < s[0] {
        forms.push(Form::Slice);
    }
    forms
}

fn shape_list(s: &[usize]) -> String {
    let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

fn type_name(s: &[usize]) -> String {
    if s.is_empty() {
        "f64".to_string()
    } else {
        format!("f64{}", shape_list(s))
    }
}

fn with_dim(t: &[usize], axis: usize, d: usize) -> Shape {
    let mut s = t.to_vec();
    s.insert(axis, d);
    s
}

// ---------------------------------------------------------------------------------------------
// The typed tree

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Un {
    Neg,
    Exp,
    Log,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
    Relu,
    Softplus,
    Gelu,
    Sqrt,
    Abs,
    Erf,
    Sign,
    Floor,
    Ceil,
}

const SMOOTH_UN: &[Un] = &[Un::Neg, Un::Exp, Un::Log, Un::Sin, Un::Cos, Un::Tan, Un::Tanh, Un::Sigmoid, Un::Softplus, Un::Gelu, Un::Sqrt, Un::Erf];
const KINK_UN: &[Un] = &[Un::Relu, Un::Abs];
const STEP_UN: &[Un] = &[Un::Sign, Un::Floor, Un::Ceil];

impl Un {
    fn name(self) -> &'static str {
        match self {
            Un::Neg => "neg",
            Un::Exp => "exp",
            Un::Log => "log",
            Un::Sin => "sin",
            Un::Cos => "cos",
            Un::Tan => "tan",
            Un::Tanh => "tanh",
            Un::Sigmoid => "sigmoid",
            Un::Relu => "relu",
            Un::Softplus => "softplus",
            Un::Gelu => "gelu",
            Un::Sqrt => "sqrt",
            Un::Abs => "abs",
            Un::Erf => "erf",
            Un::Sign => "sign",
            Un::Floor => "floor",
            Un::Ceil => "ceil",
        }
    }

    fn smooth(self) -> bool {
        SMOOTH_UN.contains(&self)
    }

    fn bound(self, b: f64) -> f64 {
        match self {
            Un::Neg | Un::Relu | Un::Abs | Un::Gelu => b,
            Un::Exp => std::f64::consts::E,
            Un::Log => (1.0 + b * b).ln(),
            Un::Sin | Un::Cos | Un::Tanh | Un::Sigmoid | Un::Erf | Un::Sign => 1.0,
            Un::Tan => 0.5f64.tan(),
            Un::Softplus => b + std::f64::consts::LN_2,
            Un::Sqrt => (1.0 + b * b).sqrt(),
            Un::Floor | Un::Ceil => b + 1.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Red {
    Sum,
    Mean,
    Prod,
    Max,
    Min,
    LogSumExp,
}

impl Red {
    fn name(self) -> &'static str {
        match self {
            Red::Sum => "sum",
            Red::Mean => "mean",
            Red::Prod => "prod",
            Red::Max => "max",
            Red::Min => "min",
            Red::LogSumExp => "logsumexp",
        }
    }
}

const SMOOTH_RED: &[Red] = &[Red::Sum, Red::Mean, Red::Prod, Red::LogSumExp];
const ALL_RED: &[Red] = &[Red::Sum, Red::Mean, Red::Prod, Red::LogSumExp, Red::Max, Red::Min];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Gt,
    Lt,
    Ge,
    Le,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Lt => "<",
            Cmp::Ge => ">=",
            Cmp::Le => "<=",
        }
    }
}

const CMPS: &[Cmp] = &[Cmp::Gt, Cmp::Lt, Cmp::Ge, Cmp::Le];

/// One subscript of a static index.
#[derive(Clone, Debug, PartialEq)]
enum Sub {
    Idx(usize),
    /// `lo:hi` of an axis of length `len` (printed `:hi` or `lo:` where it can).
    Slice(usize, usize, usize),
    Full,
    /// A loop variable.
    Loop(String),
}

#[derive(Clone, Debug)]
struct Node {
    shape: Shape,
    /// A bound on `|value|` of every element, for inputs in [-ARG_BOUND, ARG_BOUND].
    bound: f64,
    kind: Kind,
}

type B = Box<Node>;

#[derive(Clone, Debug)]
enum Kind {
    Var(String),
    /// `f64(i)` of a loop variable.
    LoopIdx(String),
    Lit(f64),
    TLit(Vec<f64>),
    Un(Un, B),
    /// `a * s`: keeps a large value within bounds.
    Scale(B, f64),
    Bin(Bin, B, B),
    PowI(B, i32),
    /// `(1.0 + a ^ 2) ^ tanh(b)`, or with `pow(…, …)` when the flag is set.
    PowF(B, B, bool),
    Clamp(B, f64, f64),
    /// The axis as written (maybe negative); `None` for all axes.
    Reduce(Red, Option<i64>, B),
    MatMul(B, B),
    /// `.T` when the flag is set, else `transpose(…)`.
    Transpose(bool, B),
    Reshape(B),
    Broadcast(B),
    /// The axis, `None` to leave it to the default 0.
    Concat(Option<usize>, Vec<Node>),
    Stack(Option<usize>, Vec<Node>),
    Index(B, Vec<Sub>),
    /// `x[argmax(key)]`.
    Gather(B, B),
    /// `f64(argmax(x))` or `f64(argmax(x, axis = k))`.
    ArgMax(Option<usize>, B),
    /// `if red(c) cmp lit { then } else { els }`.
    IfScalar { red: Red, c: B, cmp: Cmp, lit: f64, then: B, els: B },
    /// `if a cmp b { then } else { els }`, elementwise.
    Select { cmp: Cmp, a: B, b: B, then: B, els: B },
    Let(String, B, B),
    /// `let (u, w) = h(x, y); body` with a tuple helper `h`.
    LetTuple { helper: usize, u: String, w: String, x: B, y: B, body: B },
    /// `{ let mut acc = init; for idx in lo..hi { acc = body; } acc }`.
    Loop { acc: String, idx: String, lo: usize, hi: usize, init: B, body: B },
    /// A call of an elementwise helper.
    Call(usize, B, B),
    /// `(|param: T| body)(arg)`; untyped `|param|` unless the flag is set.
    Lambda { param: String, typed: bool, arg: B, body: B },
    Softmax { log: bool, qualified: bool, axis: Option<i64>, x: B },
}

impl Node {
    fn kids(&self) -> Vec<&Node> {
        match &self.kind {
            Kind::Var(_) | Kind::LoopIdx(_) | Kind::Lit(_) | Kind::TLit(_) => vec![],
            Kind::Un(_, a)
            | Kind::Scale(a, _)
            | Kind::PowI(a, _)
            | Kind::Clamp(a, _, _)
            | Kind::Reduce(_, _, a)
            | Kind::Transpose(_, a)
            | Kind::Reshape(a)
            | Kind::Broadcast(a)
            | Kind::Index(a, _)
            | Kind::ArgMax(_, a)
            | Kind::Softmax { x: a, .. } => vec![a],
            Kind::Bin(_, a, b) | Kind::PowF(a, b, _) | Kind::MatMul(a, b) | Kind::Gather(a, b) | Kind::Call(_, a, b) => vec![a, b],
            Kind::Let(_, a, b) | Kind::Loop { init: a, body: b, .. } | Kind::Lambda { arg: a, body: b, .. } => vec![a, b],
            Kind::Concat(_, xs) | Kind::Stack(_, xs) => xs.iter().collect(),
            Kind::IfScalar { c, then, els, .. } => vec![c, then, els],
            Kind::Select { a, b, then, els, .. } => vec![a, b, then, els],
            Kind::LetTuple { x, y, body, .. } => vec![x, y, body],
        }
    }

    /// The children, in the order of [`Node::kids`].
    fn kids_mut(&mut self) -> Vec<&mut Node> {
        match &mut self.kind {
            Kind::Var(_) | Kind::LoopIdx(_) | Kind::Lit(_) | Kind::TLit(_) => vec![],
            Kind::Un(_, a)
            | Kind::Scale(a, _)
            | Kind::PowI(a, _)
            | Kind::Clamp(a, _, _)
            | Kind::Reduce(_, _, a)
            | Kind::Transpose(_, a)
            | Kind::Reshape(a)
            | Kind::Broadcast(a)
            | Kind::Index(a, _)
            | Kind::ArgMax(_, a)
            | Kind::Softmax { x: a, .. } => vec![a],
            Kind::Bin(_, a, b) | Kind::PowF(a, b, _) | Kind::MatMul(a, b) | Kind::Gather(a, b) | Kind::Call(_, a, b) => vec![a, b],
            Kind::Let(_, a, b) | Kind::Loop { init: a, body: b, .. } | Kind::Lambda { arg: a, body: b, .. } => vec![a, b],
            Kind::Concat(_, xs) | Kind::Stack(_, xs) => xs.iter_mut().collect(),
            Kind::IfScalar { c, then, els, .. } => vec![c, then, els],
            Kind::Select { a, b, then, els, .. } => vec![a, b, then, els],
            Kind::LetTuple { x, y, body, .. } => vec![x, y, body],
        }
    }

    /// The names child `i` sees that the node itself does not: variables with their shapes,
    /// and a loop variable with its end.
    fn binds(&self, i: usize) -> (Names, Option<(String, usize)>) {
        match &self.kind {
            Kind::Let(v, val, _) if i == 1 => (vec![(v.clone(), val.shape.clone())], None),
            Kind::LetTuple { u, w, x, .. } if i == 2 => (vec![(u.clone(), x.shape.clone()), (w.clone(), vec![])], None),
            Kind::Loop { acc, idx, hi, .. } if i == 1 => (vec![(acc.clone(), self.shape.clone())], Some((idx.clone(), *hi))),
            Kind::Lambda { param, arg, .. } if i == 1 => (vec![(param.clone(), arg.shape.clone())], None),
            _ => (vec![], None),
        }
    }

    fn is_leaf(&self) -> bool {
        matches!(self.kind, Kind::Var(_) | Kind::LoopIdx(_) | Kind::Lit(_) | Kind::TLit(_))
    }

    /// Whether the subtree mentions `name`.
    fn refs(&self, name: &str) -> bool {
        match &self.kind {
            Kind::Var(v) | Kind::LoopIdx(v) if v == name => true,
            Kind::Index(_, subs) if subs.iter().any(|s| matches!(s, Sub::Loop(i) if i == name)) => true,
            _ => self.kids().into_iter().any(|k| k.refs(name)),
        }
    }

    fn count(&self) -> usize {
        1 + self.kids().into_iter().map(Node::count).sum::<usize>()
    }
}

/// A helper function of the program.
#[derive(Clone, Debug)]
enum Helper {
    /// `fn hK[..S](x: f64[..S], y: f64[..S]) -> f64[..S] { body }`.
    Elementwise(Node),
    /// `fn hK[N](x: f64[N], y: f64) -> (f64[N], f64) { (first, second) }`.
    Tuple(Node, Node),
}

impl Helper {
    fn bounds(&self) -> (f64, f64) {
        match self {
            Helper::Elementwise(b) => (b.bound, 0.0),
            Helper::Tuple(a, b) => (a.bound, b.bound),
        }
    }
}

#[derive(Clone, Debug)]
struct Prog {
    /// `a{k}`'s shape; `None` once the shrinker dropped an unused one.
    args: Vec<Option<Shape>>,
    /// `h{k}`; `None` once the shrinker dropped an unused one.
    helpers: Vec<Option<Helper>>,
    out: Shape,
    body: Node,
}

/// Helper result bounds, by index.
type HelperBounds = [Option<(f64, f64)>];

fn helper_bounds(helpers: &[Option<Helper>]) -> Vec<Option<(f64, f64)>> {
    helpers.iter().map(|h| h.as_ref().map(Helper::bounds)).collect()
}

/// A node's bound from its children's (already computed) bounds and its variables'.
fn local_bound(kind: &Kind, env: &dyn Fn(&str) -> f64, hb: &HelperBounds) -> f64 {
    let max = |xs: &[Node]| xs.iter().map(|x| x.bound).fold(0.0, f64::max);
    match kind {
        Kind::Var(v) => env(v),
        Kind::LoopIdx(_) => 4.0,
        Kind::Lit(v) => v.abs(),
        Kind::TLit(vs) => vs.iter().map(|v| v.abs()).fold(0.0, f64::max),
        Kind::Un(op, a) => op.bound(a.bound),
        Kind::Scale(a, s) => a.bound * s,
        Kind::Bin(op, a, b) => match op {
            Bin::Add | Bin::Sub => a.bound + b.bound,
            Bin::Mul => a.bound * b.bound,
            Bin::Div => a.bound,
            Bin::Max | Bin::Min => a.bound.max(b.bound),
        },
        Kind::PowI(a, n) => {
            if *n >= 0 {
                a.bound.powi(*n)
            } else {
                1.0
            }
        }
        Kind::PowF(a, _, _) => 1.0 + a.bound * a.bound,
        Kind::Clamp(_, lo, hi) => lo.abs().max(hi.abs()),
        Kind::Reduce(op, axis, a) => {
            let count = match axis {
                None => numel(&a.shape),
                Some(k) => a.shape[k.rem_euclid(a.shape.len() as i64) as usize],
            } as f64;
            match op {
                Red::Sum => count * a.bound,
                Red::Mean | Red::Max | Red::Min => a.bound,
                Red::Prod => a.bound.max(1.0).powf(count),
                Red::LogSumExp => a.bound + count.ln(),
            }
        }
        Kind::MatMul(a, b) => *a.shape.last().expect("matmul operands have an axis") as f64 * a.bound * b.bound,
        Kind::Transpose(_, a) | Kind::Reshape(a) | Kind::Broadcast(a) | Kind::Index(a, _) | Kind::Gather(a, _) => a.bound,
        Kind::Concat(_, xs) | Kind::Stack(_, xs) => max(xs),
        Kind::ArgMax(axis, a) => match axis {
            None => numel(&a.shape) as f64,
            Some(k) => a.shape[*k] as f64,
        },
        Kind::IfScalar { then, els, .. } | Kind::Select { then, els, .. } => then.bound.max(els.bound),
        Kind::Let(_, _, body) | Kind::LetTuple { body, .. } | Kind::Loop { body, .. } | Kind::Lambda { body, .. } => body.bound,
        Kind::Call(h, _, _) => hb.get(*h).copied().flatten().map_or(f64::INFINITY, |b| b.0),
        Kind::Softmax { log, x, .. } => {
            if *log {
                2.0 * x.bound + (numel(&x.shape) as f64).ln()
            } else {
                1.0
            }
        }
    }
}

/// Recomputes the bounds of a subtree (after shrinking) and checks that every node is within
/// [`LIMIT`] (but the operand of a squash, `free`) and every loop accumulator and helper
/// argument within [`SB`].
fn rebound(n: &mut Node, env: &mut Vec<(String, f64)>, hb: &HelperBounds, free: bool) -> bool {
    let mut ok = true;
    let squash = matches!(n.kind, Kind::Un(Un::Tanh, _) | Kind::Scale(..));
    match &mut n.kind {
        Kind::Let(v, val, body) => {
            ok &= rebound(val, env, hb, false);
            env.push((v.clone(), val.bound));
            ok &= rebound(body, env, hb, false);
            env.pop();
        }
        Kind::LetTuple { helper, u, w, x, y, body } => {
            ok &= rebound(x, env, hb, false) & rebound(y, env, hb, false);
            ok &= x.bound <= SB && y.bound <= SB;
            let (b1, b2) = hb.get(*helper).copied().flatten().unwrap_or((f64::INFINITY, f64::INFINITY));
            env.push((u.clone(), b1));
            env.push((w.clone(), b2));
            ok &= rebound(body, env, hb, false);
            env.truncate(env.len() - 2);
        }
        Kind::Loop { acc, init, body, .. } => {
            ok &= rebound(init, env, hb, false) && init.bound <= SB;
            env.push((acc.clone(), SB));
            ok &= rebound(body, env, hb, false) && body.bound <= SB;
            env.pop();
        }
        Kind::Lambda { param, arg, body, .. } => {
            ok &= rebound(arg, env, hb, false);
            env.push((param.clone(), arg.bound));
            ok &= rebound(body, env, hb, false);
            env.pop();
        }
        Kind::Call(_, a, b) => {
            ok &= rebound(a, env, hb, false) & rebound(b, env, hb, false);
            ok &= a.bound <= SB && b.bound <= SB;
        }
        _ => {
            for k in n.kids_mut() {
                ok &= rebound(k, env, hb, squash);
            }
        }
    }
    let lookup = |name: &str| env.iter().rev().find(|(v, _)| v == name).map_or(f64::INFINITY, |(_, b)| *b);
    n.bound = local_bound(&n.kind, &lookup, hb);
    ok && (free || n.bound <= LIMIT)
}

/// Recomputes every bound of a program; whether all are within their limits.
fn rebound_prog(p: &mut Prog) -> bool {
    let mut ok = true;
    for h in p.helpers.iter_mut().flatten() {
        let mut env = vec![("x".to_string(), SB), ("y".to_string(), SB)];
        match h {
            Helper::Elementwise(b) => ok &= rebound(b, &mut env, &[], false),
            Helper::Tuple(a, b) => ok &= rebound(a, &mut env, &[], false) & rebound(b, &mut env, &[], false),
        }
    }
    let hb = helper_bounds(&p.helpers);
    let mut env: Vec<(String, f64)> = p.args.iter().enumerate().filter(|(_, a)| a.is_some()).map(|(k, _)| (format!("a{k}"), ARG_BOUND)).collect();
    ok & rebound(&mut p.body, &mut env, &hb, false)
}

// ---------------------------------------------------------------------------------------------
// Generation

/// The generator's random draws (the project's portable generator).
struct Draw(Rng);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.uniform_f64() < p
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    fn weighted(&mut self, ws: &[u32]) -> usize {
        let total: u32 = ws.iter().sum();
        let mut r = self.below(total as usize) as u32;
        for (i, &w) in ws.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        unreachable!("r < total")
    }

    fn shape(&mut self) -> Shape {
        self.pick(SHAPES).to_vec()
    }
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    shape: Shape,
    bound: f64,
}

/// What an expression can refer to.
#[derive(Clone, Debug, Default)]
struct Scope {
    vars: Vec<Var>,
    /// Loop variables and their (exclusive) ends.
    loops: Vec<(String, usize)>,
    /// Inside a generic helper: shapes are `..S` ([`POLY`]) or scalars.
    poly: bool,
}

impl Scope {
    fn with(&self, name: &str, shape: &[usize], bound: f64) -> Scope {
        let mut s = self.clone();
        s.vars.push(Var { name: name.to_string(), shape: shape.to_vec(), bound });
        s
    }

    fn bound_of(&self, name: &str) -> f64 {
        self.vars.iter().rev().find(|v| v.name == name).map_or(f64::INFINITY, |v| v.bound)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    Unary,
    Binary,
    MaxMin,
    Clamp,
    PowI,
    PowF,
    ReduceAxis,
    ReduceAll,
    MatMul,
    Transpose,
    Reshape,
    Broadcast,
    Concat,
    Stack,
    Index,
    Gather,
    ArgMax,
    IfScalar,
    Select,
    Let,
    LetTuple,
    Loop,
    Call,
    Lambda,
    Softmax,
}

const KINDS: &[(K, u32)] = &[
    (K::Unary, 12),
    (K::Binary, 14),
    (K::MaxMin, 3),
    (K::Clamp, 2),
    (K::PowI, 4),
    (K::PowF, 3),
    (K::ReduceAxis, 5),
    (K::ReduceAll, 6),
    (K::MatMul, 5),
    (K::Transpose, 3),
    (K::Reshape, 3),
    (K::Broadcast, 2),
    (K::Concat, 3),
    (K::Stack, 3),
    (K::Index, 5),
    (K::Gather, 2),
    (K::ArgMax, 1),
    (K::IfScalar, 3),
    (K::Select, 3),
    (K::Let, 6),
    (K::LetTuple, 3),
    (K::Loop, 3),
    (K::Call, 4),
    (K::Lambda, 3),
    (K::Softmax, 2),
];

fn non_smooth(k: K) -> bool {
    matches!(k, K::MaxMin | K::Clamp | K::Gather | K::ArgMax | K::IfScalar | K::Select)
}

struct Gen {
    d: Draw,
    smooth: bool,
    fresh: usize,
    /// Bounds of the helpers `f` may call (empty while generating a helper).
    hb: Vec<Option<(f64, f64)>>,
    /// Indices of elementwise and of tuple helpers.
    elementwise: Vec<usize>,
    tuples: Vec<usize>,
}

fn bx(n: Node) -> B {
    Box::new(n)
}

const LITS: &[f64] = &[0.5, 1.5, -0.5, 2.0, -1.0, 0.25, 3.0, 1.0, -2.0];
const CLAMPS: &[(f64, f64)] = &[(-1.0, 1.0), (-0.5, 2.0), (0.0, 1.5), (-2.0, 0.5)];

impl Gen {
    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn mk(&self, kind: Kind, shape: Shape, sc: &Scope) -> Node {
        let bound = local_bound(&kind, &|v| sc.bound_of(v), &self.hb);
        Node { shape, bound, kind }
    }

    /// Keeps `n` within `limit`: `tanh(n)`, or `n` times a power of ten.
    fn squash(&mut self, n: Node, limit: f64, sc: &Scope) -> Node {
        if n.bound <= limit {
            return n;
        }
        let shape = n.shape.clone();
        if self.d.chance(0.5) {
            return self.mk(Kind::Un(Un::Tanh, bx(n)), shape, sc);
        }
        let mut k = 0;
        while n.bound * 10f64.powi(-k) > limit * 0.5 {
            k += 1;
        }
        let scale = 10f64.powi(-k);
        self.mk(Kind::Scale(bx(n), scale), shape, sc)
    }

    /// An expression of shape `t` nested at most `d` deep.
    fn expr(&mut self, t: &[usize], d: u32, sc: &Scope) -> Node {
        if d == 0 || self.d.chance(0.2) {
            return self.leaf(t, sc);
        }
        self.compound(t, d, sc)
    }

    /// An expression of shape `t` that is not a leaf (unless nothing else fits).
    fn compound(&mut self, t: &[usize], d: u32, sc: &Scope) -> Node {
        let kinds: Vec<(K, u32)> = KINDS.iter().copied().filter(|(k, _)| !(self.smooth && non_smooth(*k))).collect();
        let weights: Vec<u32> = kinds.iter().map(|(_, w)| *w).collect();
        for _ in 0..32 {
            let k = kinds[self.d.weighted(&weights)].0;
            if let Some(n) = self.build(k, t, d - 1, sc) {
                return self.squash(n, LIMIT, sc);
            }
        }
        self.leaf(t, sc)
    }

    fn pair(&mut self, t: &[usize]) -> (Shape, Shape) {
        let ps = parents(t);
        let a = if self.d.chance(0.6) {
            t.to_vec()
        } else if self.d.chance(0.4) {
            vec![]
        } else {
            self.d.pick(&ps)
        };
        let fits: Vec<Shape> = ps.iter().filter(|s| broadcast(&a, s).as_deref() == Some(t)).cloned().collect();
        let b = if fits.iter().any(|s| s == t) && self.d.chance(0.4) { t.to_vec() } else { self.d.pick(&fits) };
        if self.d.chance(0.5) {
            (a, b)
        } else {
            (b, a)
        }
    }

    /// A shape for a `let` value or a lambda parameter.
    fn any_shape(&mut self, t: &[usize], sc: &Scope) -> Shape {
        if self.d.chance(0.3) {
            t.to_vec()
        } else if sc.poly {
            self.d.pick(&[poly(), vec![]])
        } else {
            self.prefer_shape(SHAPES, sc)
        }
    }

    /// One of `options`, most often one whose shapes (`shapes` of it) include the shape of a
    /// variable in scope, so that leaves are variables rather than adapted ones.
    fn prefer<T: Clone>(&mut self, options: &[T], sc: &Scope, shapes: impl Fn(&T) -> Vec<&Shape>) -> T {
        let fits: Vec<T> = options.iter().filter(|o| shapes(o).iter().any(|s| sc.vars.iter().any(|v| v.shape == **s))).cloned().collect();
        if !fits.is_empty() && self.d.chance(0.75) {
            self.d.pick(&fits)
        } else {
            self.d.pick(options)
        }
    }

    fn prefer_shape<S: AsRef<[usize]>>(&mut self, options: &[S], sc: &Scope) -> Shape {
        let options: Vec<Shape> = options.iter().map(|s| s.as_ref().to_vec()).collect();
        self.prefer(&options, sc, |s| vec![s])
    }

    fn build(&mut self, k: K, t: &[usize], c: u32, sc: &Scope) -> Option<Node> {
        let tv = t.to_vec();
        let rank = t.len();
        let concrete = !sc.poly;
        let node = match k {
            K::Unary => {
                let op = if self.smooth || self.d.chance(0.75) {
                    self.d.pick(SMOOTH_UN)
                } else if self.d.chance(0.8) {
                    self.d.pick(KINK_UN)
                } else {
                    self.d.pick(STEP_UN)
                };
                let a = self.expr(t, c, sc);
                self.mk(Kind::Un(op, bx(a)), tv, sc)
            }
            K::Binary | K::MaxMin => {
                let (sa, sb) = self.pair(t);
                let op = if k == K::MaxMin { self.d.pick(&[Bin::Max, Bin::Min]) } else { self.d.pick(&[Bin::Add, Bin::Sub, Bin::Mul, Bin::Mul, Bin::Div]) };
                let a = self.expr(&sa, c, sc);
                let b = self.expr(&sb, c, sc);
                self.mk(Kind::Bin(op, bx(a), bx(b)), tv, sc)
            }
            K::Clamp => {
                let (lo, hi) = self.d.pick(CLAMPS);
                let a = self.expr(t, c, sc);
                self.mk(Kind::Clamp(bx(a), lo, hi), tv, sc)
            }
            K::PowI => {
                let n = self.d.pick(&[-2, -1, 0, 1, 2, 2, 3]);
                let a = self.expr(t, c, sc);
                self.mk(Kind::PowI(bx(a), n), tv, sc)
            }
            K::PowF => {
                let ps = parents(t);
                let se = self.d.pick(&ps);
                let a = self.expr(t, c, sc);
                let e = self.expr(&se, c, sc);
                let func = self.d.chance(0.3);
                self.mk(Kind::PowF(bx(a), bx(e), func), tv, sc)
            }
            K::ReduceAxis if concrete && rank <= 2 => {
                let options: Vec<(usize, Shape)> = (0..=rank).flat_map(|axis| [2, 3, 4].map(|m| (axis, with_dim(t, axis, m)))).collect();
                let (axis, s) = self.prefer(&options, sc, |o| vec![&o.1]);
                let op = self.d.pick(if self.smooth { SMOOTH_RED } else { ALL_RED });
                let written = if self.d.chance(0.25) { axis as i64 - s.len() as i64 } else { axis as i64 };
                let a = self.expr(&s, c, sc);
                self.mk(Kind::Reduce(op, Some(written), bx(a)), tv, sc)
            }
            K::ReduceAll if t.is_empty() => {
                let s = if sc.poly { poly() } else { self.prefer_shape(&SHAPES[1..], sc) };
                let op = self.d.pick(if self.smooth { SMOOTH_RED } else { ALL_RED });
                let a = self.expr(&s, c, sc);
                self.mk(Kind::Reduce(op, None, bx(a)), tv, sc)
            }
            K::MatMul if concrete => {
                let options: Vec<(Shape, Shape)> = [2, 3, 4]
                    .iter()
                    .flat_map(|&k| match t {
                        [] => vec![(vec![k], vec![k])],
                        [m] => vec![(vec![*m, k], vec![k]), (vec![k], vec![k, *m])],
                        [m, n] => vec![(vec![*m, k], vec![k, *n])],
                        [b, m, n] => vec![(vec![*b, *m, k], vec![k, *n])],
                        _ => vec![],
                    })
                    .collect();
                if options.is_empty() {
                    return None;
                }
                let (sa, sb) = self.prefer(&options, sc, |o| vec![&o.0, &o.1]);
                let a = self.expr(&sa, c, sc);
                let b = self.expr(&sb, c, sc);
                self.mk(Kind::MatMul(bx(a), bx(b)), tv, sc)
            }
            K::Transpose if concrete && rank == 2 => {
                let a = self.expr(&[t[1], t[0]], c, sc);
                let method = self.d.chance(0.6);
                self.mk(Kind::Transpose(method, bx(a)), tv, sc)
            }
            K::Reshape if concrete && rank > 0 => {
                let srcs = reshape_sources(t);
                if srcs.is_empty() {
                    return None;
                }
                let s = self.prefer_shape(&srcs, sc);
                let a = self.expr(&s, c, sc);
                self.mk(Kind::Reshape(bx(a)), tv, sc)
            }
            K::Broadcast if concrete && rank > 0 => {
                let ps = parents(t);
                let s = self.prefer_shape(&ps[1..], sc);
                let a = self.expr(&s, c, sc);
                self.mk(Kind::Broadcast(bx(a)), tv, sc)
            }
            K::Concat if concrete => {
                let axes: Vec<usize> = (0..rank).filter(|&i| t[i] >= 2).collect();
                if axes.is_empty() {
                    return None;
                }
                let axis = self.d.pick(&axes);
                let n = t[axis];
                let sizes = if n >= 3 && self.d.chance(0.3) {
                    let p = 1 + self.d.below(n - 2);
                    let q = 1 + self.d.below(n - p - 1);
                    vec![p, q, n - p - q]
                } else {
                    let splits: Vec<Vec<Shape>> = (1..n)
                        .map(|p| {
                            let (mut a, mut b) = (tv.clone(), tv.clone());
                            a[axis] = p;
                            b[axis] = n - p;
                            vec![a, b]
                        })
                        .collect();
                    let parts = self.prefer(&splits, sc, |s| s.iter().collect());
                    vec![parts[0][axis], parts[1][axis]]
                };
                let parts: Vec<Node> = sizes
                    .iter()
                    .map(|&m| {
                        let mut s = tv.clone();
                        s[axis] = m;
                        self.expr(&s, c, sc)
                    })
                    .collect();
                let written = if axis == 0 && self.d.chance(0.5) { None } else { Some(axis) };
                self.mk(Kind::Concat(written, parts), tv, sc)
            }
            K::Stack if concrete && rank > 0 => {
                let axes: Vec<usize> = (0..rank).filter(|&i| t[i] <= 4).collect();
                if axes.is_empty() {
                    return None;
                }
                let axis = self.d.pick(&axes);
                let mut s = tv.clone();
                s.remove(axis);
                let parts: Vec<Node> = (0..t[axis]).map(|_| self.expr(&s, c, sc)).collect();
                let written = if axis == 0 && self.d.chance(0.5) { None } else { Some(axis) };
                self.mk(Kind::Stack(written, parts), tv, sc)
            }
            K::Index if concrete && rank <= 2 => {
                let mut forms = vec![0];
                if rank <= 1 {
                    forms.push(1);
                }
                if rank >= 1 {
                    forms.extend([2, 3]);
                }
                if rank == 1 {
                    forms.push(4);
                }
                // (form, the indexed shape)
                let mut options: Vec<(usize, Shape)> = Vec::new();
                for m in [2, 3, 4] {
                    options.push((0, with_dim(t, 0, m)));
                    if rank <= 1 {
                        for m2 in [2, 3] {
                            options.push((1, [&[m, m2][..], t].concat()));
                        }
                    }
                    if rank >= 1 {
                        if m > t[0] {
                            options.push((2, [&[m][..], &t[1..]].concat()));
                        }
                        options.push((3, with_dim(t, 1, m)));
                    }
                    if rank == 1 {
                        for extra in [1, 2] {
                            options.push((4, vec![m, t[0] + extra]));
                        }
                    }
                }
                let (form, s) = self.prefer(&options, sc, |o| vec![&o.1]);
                let j = self.d.below(s[0]);
                let subs = match form {
                    0 => vec![Sub::Idx(j)],
                    1 => vec![Sub::Idx(j), Sub::Idx(self.d.below(s[1]))],
                    2 => {
                        let lo = self.d.below(s[0] - t[0] + 1);
                        vec![Sub::Slice(lo, lo + t[0], s[0])]
                    }
                    3 => vec![Sub::Full, Sub::Idx(self.d.below(s[1]))],
                    _ => {
                        let lo = self.d.below(s[1] - t[0] + 1);
                        vec![Sub::Idx(j), Sub::Slice(lo, lo + t[0], s[1])]
                    }
                };
                let a = self.expr(&s, c, sc);
                self.mk(Kind::Index(bx(a), subs), tv, sc)
            }
            K::Gather if concrete && rank <= 2 => {
                let options: Vec<Shape> = [2, 3, 4].iter().map(|&m| with_dim(t, 0, m)).collect();
                let s = self.prefer_shape(&options, sc);
                let a = self.expr(&s, c, sc);
                let key = self.expr(&[s[0]], c, sc);
                self.mk(Kind::Gather(bx(a), bx(key)), tv, sc)
            }
            K::ArgMax if concrete && rank <= 2 => {
                let mut options: Vec<(Option<usize>, Shape)> = (0..=rank).flat_map(|axis| [2, 3].map(|m| (Some(axis), with_dim(t, axis, m)))).collect();
                if rank == 0 {
                    options.extend(SHAPES[1..].iter().map(|s| (None, s.to_vec())));
                }
                let (axis, s) = self.prefer(&options, sc, |o| vec![&o.1]);
                let a = self.expr(&s, c, sc);
                self.mk(Kind::ArgMax(axis, bx(a)), tv, sc)
            }
            K::IfScalar => {
                let s = if sc.poly { self.d.pick(&[poly(), vec![]]) } else { self.prefer_shape(SHAPES, sc) };
                let cond = self.expr(&s, c, sc);
                let red = self.d.pick(&[Red::Sum, Red::Mean, Red::Max, Red::Min]);
                let cmp = self.d.pick(CMPS);
                let lit = self.d.pick(&[0.0, 0.5, -0.5]);
                let then = self.expr(t, c, sc);
                let els = self.expr(t, c, sc);
                self.mk(Kind::IfScalar { red, c: bx(cond), cmp, lit, then: bx(then), els: bx(els) }, tv, sc)
            }
            K::Select => {
                let ps = parents(t);
                let sa = self.d.pick(&ps);
                let a = self.expr(&sa, c, sc);
                let b = if self.d.chance(0.4) {
                    let v = self.d.pick(LITS);
                    self.mk(Kind::Lit(v), vec![], sc)
                } else {
                    let sb = self.d.pick(&parents(&sa));
                    self.expr(&sb, c, sc)
                };
                let cmp = self.d.pick(CMPS);
                let then = self.expr(t, c, sc);
                // A scalar condition is a scalar `if`, whose branches have one type.
                let se = if sa.is_empty() || self.d.chance(0.5) { tv.clone() } else { self.d.pick(&ps) };
                let els = self.expr(&se, c, sc);
                let (then, els) = if self.d.chance(0.5) { (then, els) } else { (els, then) };
                self.mk(Kind::Select { cmp, a: bx(a), b: bx(b), then: bx(then), els: bx(els) }, tv, sc)
            }
            K::Let => {
                let s = self.any_shape(t, sc);
                let value = self.expr(&s, c, sc);
                let v = self.fresh("v");
                let inner = sc.with(&v, &s, value.bound);
                let body = self.expr(t, c, &inner);
                self.mk(Kind::Let(v, bx(value), bx(body)), tv, sc)
            }
            K::LetTuple if concrete && !self.tuples.is_empty() => {
                let helper = self.d.pick(&self.tuples);
                let n = self.d.pick(&[2, 3, 4]);
                let x = self.expr(&[n], c, sc);
                let x = self.squash(x, SB, sc);
                let y = self.expr(&[], c, sc);
                let y = self.squash(y, SB, sc);
                let (u, w) = (self.fresh("u"), self.fresh("w"));
                let (b1, b2) = self.hb[helper].expect("tuple helpers exist");
                let inner = sc.with(&u, &[n], b1).with(&w, &[], b2);
                let body = self.expr(t, c, &inner);
                self.mk(Kind::LetTuple { helper, u, w, x: bx(x), y: bx(y), body: bx(body) }, tv, sc)
            }
            K::Loop => {
                let lo = if self.d.chance(0.2) { 1 } else { 0 };
                let ends: Vec<usize> = sc.vars.iter().filter(|v| !is_poly(&v.shape) && !v.shape.is_empty() && v.shape[0] > lo).map(|v| v.shape[0].min(4)).collect();
                let hi = if !ends.is_empty() && self.d.chance(0.8) { self.d.pick(&ends) } else { lo + 2 };
                let init = self.expr(t, c, sc);
                let init = self.squash(init, SB, sc);
                let (acc, idx) = (self.fresh("s"), self.fresh("i"));
                let mut inner = sc.with(&acc, t, SB);
                inner.loops.push((idx.clone(), hi));
                let mut body = self.expr(t, c, &inner);
                if self.d.chance(0.7) {
                    let op = self.d.pick(&[Bin::Add, Bin::Add, Bin::Sub, Bin::Mul]);
                    let a = self.mk(Kind::Var(acc.clone()), tv.clone(), &inner);
                    body = self.mk(Kind::Bin(op, bx(a), bx(body)), tv.clone(), &inner);
                }
                let body = self.squash(body, SB, &inner);
                self.mk(Kind::Loop { acc, idx, lo, hi, init: bx(init), body: bx(body) }, tv, sc)
            }
            K::Call if concrete && !self.elementwise.is_empty() && numel(t) <= POLY_NUMEL => {
                let h = self.d.pick(&self.elementwise);
                let a = self.expr(t, c, sc);
                let a = self.squash(a, SB, sc);
                let b = self.expr(t, c, sc);
                let b = self.squash(b, SB, sc);
                self.mk(Kind::Call(h, bx(a), bx(b)), tv, sc)
            }
            K::Lambda => {
                let s = self.any_shape(t, sc);
                let arg = self.expr(&s, c, sc);
                let param = self.fresh("t");
                let typed = concrete && self.d.chance(0.7);
                let inner = sc.with(&param, &s, arg.bound);
                let body = self.expr(t, c, &inner);
                self.mk(Kind::Lambda { param, typed, arg: bx(arg), body: bx(body) }, tv, sc)
            }
            K::Softmax if concrete && rank > 0 => {
                let axis = if self.d.chance(0.5) {
                    None
                } else if self.d.chance(0.3) {
                    Some(-1)
                } else {
                    Some(self.d.below(rank) as i64)
                };
                let log = self.d.chance(0.3);
                let qualified = self.d.chance(0.2);
                let x = self.expr(t, c, sc);
                self.mk(Kind::Softmax { log, qualified, axis, x: bx(x) }, tv, sc)
            }
            _ => return None,
        };
        Some(node)
    }

    /// A variable, a loop-indexed row, a constant, or a variable adapted to shape `t`.
    fn leaf(&mut self, t: &[usize], sc: &Scope) -> Node {
        let mut cands: Vec<(u32, Node)> = Vec::new();
        for (i, v) in sc.vars.iter().enumerate() {
            if v.shape == t {
                cands.push((6 + 3 * i as u32, self.mk(Kind::Var(v.name.clone()), t.to_vec(), sc)));
            }
        }
        for (idx, hi) in &sc.loops {
            for v in &sc.vars {
                if !is_poly(&v.shape) && !v.shape.is_empty() && v.shape[0] >= *hi && v.shape[1..] == *t {
                    let var = self.mk(Kind::Var(v.name.clone()), v.shape.clone(), sc);
                    cands.push((12, self.mk(Kind::Index(bx(var), vec![Sub::Loop(idx.clone())]), t.to_vec(), sc)));
                }
            }
            if t.is_empty() {
                cands.push((3, self.mk(Kind::LoopIdx(idx.clone()), vec![], sc)));
            }
        }
        if t.is_empty() {
            let v = self.d.pick(LITS);
            cands.push((3, self.mk(Kind::Lit(v), vec![], sc)));
        } else if !is_poly(t) {
            let vals: Vec<f64> = (0..numel(t)).map(|_| (self.d.0.uniform_range(-1.0, 1.0) * 100.0).round() / 100.0).collect();
            cands.push((1, self.mk(Kind::TLit(vals), t.to_vec(), sc)));
        }
        let others: Vec<Var> = sc.vars.iter().filter(|v| v.shape != t && (!sc.poly || t.is_empty())).cloned().collect();
        let structural: Vec<Var> = others.iter().filter(|v| !shape_forms(&v.shape, t).is_empty()).cloned().collect();
        if !others.is_empty() {
            let v = if !structural.is_empty() && self.d.chance(0.8) { self.d.pick(&structural) } else { self.d.pick(&others) };
            let var = self.mk(Kind::Var(v.name.clone()), v.shape.clone(), sc);
            let weight = if cands.len() <= 1 { 10 } else { 3 };
            cands.push((weight, self.adapt(var, t, sc)));
        }
        let weights: Vec<u32> = cands.iter().map(|(w, _)| *w).collect();
        let i = self.d.weighted(&weights);
        cands.swap_remove(i).1
    }

    /// `x` made into shape `t` by shape ops where it can be (or a reduction and a broadcast).
    fn adapt(&mut self, x: Node, t: &[usize], sc: &Scope) -> Node {
        let s = x.shape.clone();
        let tv = t.to_vec();
        let forms = if sc.poly { vec![] } else { shape_forms(&s, t) };
        let form = if forms.is_empty() || self.d.chance(0.1) { Form::Reduce } else { self.d.pick(&forms) };
        match form {
            Form::Broadcast => self.mk(Kind::Broadcast(bx(x)), tv, sc),
            Form::Reshape if s.len() == 2 && t == [s[1], s[0]] && self.d.chance(0.5) => self.mk(Kind::Transpose(true, bx(x)), tv, sc),
            Form::Reshape => self.mk(Kind::Reshape(bx(x)), tv, sc),
            Form::Row => {
                let j = self.d.below(s[0]);
                self.mk(Kind::Index(bx(x), vec![Sub::Idx(j)]), tv, sc)
            }
            Form::Element => {
                let (i, j) = (self.d.below(s[0]), self.d.below(s[1]));
                self.mk(Kind::Index(bx(x), vec![Sub::Idx(i), Sub::Idx(j)]), tv, sc)
            }
            Form::Column => {
                let j = self.d.below(s[1]);
                self.mk(Kind::Index(bx(x), vec![Sub::Full, Sub::Idx(j)]), tv, sc)
            }
            Form::Slice => {
                let lo = self.d.below(s[0] - t[0] + 1);
                self.mk(Kind::Index(bx(x), vec![Sub::Slice(lo, lo + t[0], s[0])]), tv, sc)
            }
            Form::Reduce => {
                let op = self.d.pick(&[Red::Sum, Red::Mean, Red::LogSumExp]);
                let r = self.mk(Kind::Reduce(op, None, bx(x)), vec![], sc);
                let r = self.squash(r, LIMIT, sc);
                if t.is_empty() {
                    r
                } else {
                    assert!(!sc.poly, "in a helper only scalars are adapted to");
                    self.mk(Kind::Broadcast(bx(r)), tv, sc)
                }
            }
        }
    }

    fn helper(&mut self, depth: u32) -> Helper {
        let sc = Scope { vars: vec![], loops: vec![], poly: true };
        if self.d.chance(0.5) {
            let sc = sc.with("x", &poly(), SB).with("y", &poly(), SB);
            Helper::Elementwise(self.compound(&poly(), depth, &sc))
        } else {
            let sc = sc.with("x", &poly(), SB).with("y", &[], SB);
            let a = self.compound(&poly(), depth, &sc);
            let b = self.compound(&[], depth, &sc);
            Helper::Tuple(a, b)
        }
    }
}

fn gen_prog(seed: u64, opts: GenOptions) -> Prog {
    let mut g = Gen { d: Draw(Rng::seed_from_u64(seed)), smooth: opts.smooth_only, fresh: 0, hb: vec![], elementwise: vec![], tuples: vec![] };
    let depth = opts.max_depth.max(1);
    let n_helpers = g.d.weighted(&[4, 4, 2]);
    let helpers: Vec<Option<Helper>> = (0..n_helpers).map(|_| Some(g.helper(depth.min(2)))).collect();
    g.hb = helper_bounds(&helpers);
    for (k, h) in helpers.iter().enumerate() {
        match h {
            Some(Helper::Elementwise(_)) => g.elementwise.push(k),
            Some(Helper::Tuple(..)) => g.tuples.push(k),
            None => {}
        }
    }
    let n_args = 1 + g.d.weighted(&[3, 4, 3]);
    let args: Vec<Shape> = (0..n_args).map(|_| g.d.shape()).collect();
    let out = if opts.scalar_out {
        vec![]
    } else if g.d.chance(0.4) && args.iter().any(|a| !a.is_empty()) {
        let tensors: Vec<Shape> = args.iter().filter(|a| !a.is_empty()).cloned().collect();
        g.d.pick(&tensors)
    } else {
        g.d.pick(OUT_SHAPES).to_vec()
    };
    let sc = Scope { vars: args.iter().enumerate().map(|(k, s)| Var { name: format!("a{k}"), shape: s.clone(), bound: ARG_BOUND }).collect(), loops: vec![], poly: false };
    let body = g.compound(&out, depth, &sc);
    let mut p = Prog { args: args.into_iter().map(Some).collect(), helpers, out, body };
    assert!(rebound_prog(&mut p), "a generated program is within its bounds");
    p
}

// ---------------------------------------------------------------------------------------------
// Shrinking

/// Variables in scope during shrinking, with their shapes.
type Names = Vec<(String, Shape)>;

/// A constant of shape `t` (none for `..S`).
fn constant(t: &[usize]) -> Option<Node> {
    if is_poly(t) {
        return None;
    }
    let kind = if t.is_empty() { Kind::Lit(0.5) } else { Kind::TLit(vec![0.5; numel(t)]) };
    Some(Node { shape: t.to_vec(), bound: 0.5, kind })
}

/// Every tree one step simpler than `n` (bounds to be recomputed), biggest steps first.
fn node_shrinks(n: &Node, names: &Names, out: &mut Vec<Node>) {
    let var_of = |t: &[usize]| names.iter().find(|(_, s)| s == t).map(|(v, _)| Node { shape: t.to_vec(), bound: 0.0, kind: Kind::Var(v.clone()) });
    if n.is_leaf() {
        if !matches!(n.kind, Kind::Lit(_) | Kind::TLit(_)) {
            out.extend(constant(&n.shape));
        }
        return;
    }
    out.extend(var_of(&n.shape));
    out.extend(constant(&n.shape));
    for (i, k) in n.kids().into_iter().enumerate() {
        let (bound, _) = n.binds(i);
        if k.shape == n.shape && bound.iter().all(|(v, _)| !k.refs(v)) && !loop_var_used(n, i, k) {
            out.push(k.clone());
        }
    }
    if let Kind::Loop { lo, hi, .. } = &n.kind {
        if *hi > *lo + 1 {
            let mut m = n.clone();
            if let Kind::Loop { hi, lo, .. } = &mut m.kind {
                *hi = *lo + 1;
            }
            out.push(m);
        }
    }
    for (i, kid) in n.kids().into_iter().enumerate() {
        let (bound, _) = n.binds(i);
        let mut inner = names.clone();
        inner.extend(bound);
        let mut variants = Vec::new();
        node_shrinks(kid, &inner, &mut variants);
        for v in variants {
            let mut m = n.clone();
            *m.kids_mut().swap_remove(i) = v;
            out.push(m);
        }
    }
}

/// Whether child `i` of `n` uses a loop variable `n` binds.
fn loop_var_used(n: &Node, i: usize, k: &Node) -> bool {
    matches!(n.binds(i).1, Some((idx, _)) if k.refs(&idx))
}

fn calls_helper(n: &Node, h: usize) -> bool {
    match &n.kind {
        Kind::Call(k, _, _) | Kind::LetTuple { helper: k, .. } if *k == h => true,
        _ => n.kids().into_iter().any(|k| calls_helper(k, h)),
    }
}

fn shrink_candidates(p: &Prog) -> Vec<Prog> {
    let mut out = Vec::new();
    let names: Names = p.args.iter().enumerate().filter_map(|(k, a)| a.as_ref().map(|s| (format!("a{k}"), s.clone()))).collect();
    let mut bodies = Vec::new();
    node_shrinks(&p.body, &names, &mut bodies);
    out.extend(bodies.into_iter().map(|b| Prog { body: b, ..p.clone() }));
    for (k, h) in p.helpers.iter().enumerate() {
        let Some(h) = h else { continue };
        if !calls_helper(&p.body, k) {
            let mut q = p.clone();
            q.helpers[k] = None;
            out.push(q);
            continue;
        }
        let (a, b) = match h {
            Helper::Elementwise(a) => (a, None),
            Helper::Tuple(a, b) => (a, Some(b)),
        };
        let y = if b.is_some() { vec![] } else { poly() };
        let names: Names = vec![("x".to_string(), poly()), ("y".to_string(), y)];
        let mut variants = Vec::new();
        node_shrinks(a, &names, &mut variants);
        for v in variants {
            let mut q = p.clone();
            q.helpers[k] = Some(match b {
                Some(b) => Helper::Tuple(v, b.clone()),
                None => Helper::Elementwise(v),
            });
            out.push(q);
        }
        if let Some(b) = b {
            let mut variants = Vec::new();
            node_shrinks(b, &names, &mut variants);
            for v in variants {
                let mut q = p.clone();
                q.helpers[k] = Some(Helper::Tuple(a.clone(), v));
                out.push(q);
            }
        }
    }
    for (k, a) in p.args.iter().enumerate() {
        if a.is_some() && p.args.iter().flatten().count() > 1 && !p.body.refs(&format!("a{k}")) {
            let mut q = p.clone();
            q.args[k] = None;
            out.push(q);
        }
    }
    out.retain_mut(rebound_prog);
    out
}

// ---------------------------------------------------------------------------------------------
// Printing

fn num(v: f64) -> String {
    format!("{v:?}")
}

/// Whether `n` prints as a primary expression (a name, a call, an index): safe as the operand
/// of any operator and as the base of a postfix.
fn primary(n: &Node) -> bool {
    match &n.kind {
        Kind::Var(_) | Kind::LoopIdx(_) => true,
        Kind::Lit(v) => *v >= 0.0,
        Kind::Un(op, _) => *op != Un::Neg,
        Kind::Bin(op, _, _) => matches!(op, Bin::Max | Bin::Min),
        Kind::PowF(_, _, func) => *func,
        Kind::Clamp(..)
        | Kind::Reduce(..)
        | Kind::Transpose(..)
        | Kind::Reshape(_)
        | Kind::Broadcast(_)
        | Kind::Concat(..)
        | Kind::Stack(..)
        | Kind::Index(..)
        | Kind::Gather(..)
        | Kind::ArgMax(..)
        | Kind::Call(..)
        | Kind::Lambda { .. }
        | Kind::Softmax { .. } => true,
        Kind::TLit(_)
        | Kind::Scale(..)
        | Kind::PowI(..)
        | Kind::MatMul(..)
        | Kind::IfScalar { .. }
        | Kind::Select { .. }
        | Kind::Let(..)
        | Kind::LetTuple { .. }
        | Kind::Loop { .. } => false,
    }
}

fn operand(n: &Node) -> String {
    if primary(n) {
        expr(n)
    } else {
        format!("({})", expr(n))
    }
}

fn tensor_lit(shape: &[usize], vals: &[f64]) -> String {
    match shape {
        [] => num(vals[0]),
        [_] => format!("[{}]", vals.iter().map(|v| num(*v)).collect::<Vec<_>>().join(", ")),
        [d, rest @ ..] => {
            let step = vals.len() / d;
            let rows: Vec<String> = (0..*d).map(|i| tensor_lit(rest, &vals[i * step..(i + 1) * step])).collect();
            format!("[{}]", rows.join(", "))
        }
    }
}

fn axis_arg(axis: Option<i64>) -> String {
    axis.map_or(String::new(), |k| format!(", axis = {k}"))
}

fn list(xs: &[Node]) -> String {
    xs.iter().map(operand).collect::<Vec<_>>().join(", ")
}

/// `n` as a full expression.
fn expr(n: &Node) -> String {
    match &n.kind {
        Kind::Var(v) => v.clone(),
        Kind::LoopIdx(i) => format!("f64({i})"),
        Kind::Lit(v) => num(*v),
        Kind::TLit(vs) => tensor_lit(&n.shape, vs),
        Kind::Un(op, a) => {
            let x = operand(a);
            match op {
                Un::Neg => format!("-{x}"),
                Un::Exp => format!("exp(tanh({}))", expr(a)),
                Un::Log => format!("log(1.0 + {x} ^ 2)"),
                Un::Sqrt => format!("sqrt(1.0 + {x} ^ 2)"),
                Un::Tan => format!("tan(0.5 * tanh({}))", expr(a)),
                _ => format!("{}({})", op.name(), expr(a)),
            }
        }
        Kind::Scale(a, s) => format!("{} * {}", operand(a), num(*s)),
        Kind::Bin(op, a, b) => match op {
            Bin::Add => format!("{} + {}", operand(a), operand(b)),
            Bin::Sub => format!("{} - {}", operand(a), operand(b)),
            Bin::Mul => format!("{} * {}", operand(a), operand(b)),
            Bin::Div => format!("{} / (1.0 + {} ^ 2)", operand(a), operand(b)),
            Bin::Max => format!("max({}, {})", expr(a), expr(b)),
            Bin::Min => format!("min({}, {})", expr(a), expr(b)),
        },
        Kind::PowI(a, k) => {
            if *k >= 0 {
                format!("{} ^ {k}", operand(a))
            } else {
                format!("(1.0 + {} ^ 2) ^ {k}", operand(a))
            }
        }
        Kind::PowF(a, e, func) => {
            if *func {
                format!("pow(1.0 + {} ^ 2, tanh({}))", operand(a), expr(e))
            } else {
                format!("(1.0 + {} ^ 2) ^ tanh({})", operand(a), expr(e))
            }
        }
        Kind::Clamp(a, lo, hi) => format!("clamp({}, {}, {})", expr(a), num(*lo), num(*hi)),
        Kind::Reduce(op, axis, a) => format!("{}({}{})", op.name(), expr(a), axis_arg(*axis)),
        Kind::MatMul(a, b) => format!("{} @ {}", operand(a), operand(b)),
        Kind::Transpose(true, a) => format!("{}.T", operand(a)),
        Kind::Transpose(false, a) => format!("transpose({})", expr(a)),
        Kind::Reshape(a) => format!("reshape({}, {})", expr(a), shape_list(&n.shape)),
        Kind::Broadcast(a) => format!("broadcast({}, {})", expr(a), shape_list(&n.shape)),
        Kind::Concat(axis, xs) => format!("concat([{}]{})", list(xs), axis_arg(axis.map(|k| k as i64))),
        Kind::Stack(axis, xs) => format!("stack([{}]{})", list(xs), axis_arg(axis.map(|k| k as i64))),
        Kind::Index(a, subs) => {
            let subs: Vec<String> = subs
                .iter()
                .map(|s| match s {
                    Sub::Idx(j) => j.to_string(),
                    Sub::Slice(lo, hi, len) => match (*lo == 0, hi == len) {
                        (true, true) => ":".to_string(),
                        (true, false) => format!(":{hi}"),
                        (false, true) => format!("{lo}:"),
                        (false, false) => format!("{lo}:{hi}"),
                    },
                    Sub::Full => ":".to_string(),
                    Sub::Loop(i) => i.clone(),
                })
                .collect();
            format!("{}[{}]", operand(a), subs.join(", "))
        }
        Kind::Gather(a, key) => format!("{}[argmax({})]", operand(a), expr(key)),
        Kind::ArgMax(axis, a) => format!("f64(argmax({}{}))", expr(a), axis_arg(axis.map(|k| k as i64))),
        Kind::IfScalar { red, c, cmp, lit, then, els } => {
            format!("if {}({}) {} {} {{ {} }} else {{ {} }}", red.name(), expr(c), cmp.symbol(), num(*lit), expr(then), expr(els))
        }
        Kind::Select { cmp, a, b, then, els } => {
            format!("if {} {} {} {{ {} }} else {{ {} }}", operand(a), cmp.symbol(), operand(b), expr(then), expr(els))
        }
        Kind::Let(..) | Kind::LetTuple { .. } => format!("{{ {} }}", block(n, " ")),
        Kind::Loop { acc, idx, lo, hi, init, body } => {
            format!("{{ let mut {acc} = {}; for {idx} in {lo}..{hi} {{ {acc} = {}; }} {acc} }}", expr(init), expr(body))
        }
        Kind::Call(h, a, b) => format!("h{h}({}, {})", expr(a), expr(b)),
        Kind::Lambda { param, typed, arg, body } => {
            let p = if *typed { format!("{param}: {}", type_name(&arg.shape)) } else { param.clone() };
            format!("(|{p}| {})({})", expr(body), expr(arg))
        }
        Kind::Softmax { log, qualified, axis, x } => {
            let name = if *log { "log_softmax" } else { "softmax" };
            let q = if *qualified { "nn::" } else { "" };
            format!("{q}{name}({}{})", expr(x), axis_arg(*axis))
        }
    }
}

/// The statements of a chain of `let`s and its value, separated by `sep`.
fn block(n: &Node, sep: &str) -> String {
    let mut s = String::new();
    let mut n = n;
    loop {
        match &n.kind {
            Kind::Let(v, val, body) => {
                write!(s, "let {v} = {};{sep}", expr(val)).unwrap();
                n = body;
            }
            Kind::LetTuple { helper, u, w, x, y, body } => {
                write!(s, "let ({u}, {w}) = h{helper}({}, {});{sep}", expr(x), expr(y)).unwrap();
                n = body;
            }
            _ => {
                s.push_str(&expr(n));
                return s;
            }
        }
    }
}

fn render(p: &Prog) -> GenProgram {
    let mut features = BTreeSet::new();
    let mut calls: BTreeMap<usize, BTreeSet<Shape>> = BTreeMap::new();
    collect_features(&p.body, &mut features, &mut calls);
    for h in p.helpers.iter().flatten() {
        match h {
            Helper::Elementwise(a) => collect_features(a, &mut features, &mut calls),
            Helper::Tuple(a, b) => {
                collect_features(a, &mut features, &mut calls);
                collect_features(b, &mut features, &mut calls);
            }
        }
    }
    if calls.values().any(|s| s.len() >= 2) {
        features.insert("generic_two_instances");
    }
    let smooth = !features.iter().any(|f| NON_SMOOTH_FEATURES.contains(f));
    let mut src = String::new();
    if features.contains("softmax") || features.contains("log_softmax") {
        src.push_str("use nn;\n");
    }
    for (k, h) in p.helpers.iter().enumerate() {
        match h {
            Some(Helper::Elementwise(a)) => {
                writeln!(src, "fn h{k}[..S](x: f64[..S], y: f64[..S]) -> f64[..S] {{\n    {}\n}}", block(a, "\n    ")).unwrap();
            }
            Some(Helper::Tuple(a, b)) => {
                writeln!(src, "fn h{k}[N](x: f64[N], y: f64) -> (f64[N], f64) {{\n    ({}, {})\n}}", expr(a), expr(b)).unwrap();
            }
            None => {}
        }
    }
    let params: Vec<String> = p.args.iter().enumerate().filter_map(|(k, a)| a.as_ref().map(|s| format!("a{k}: {}", type_name(s)))).collect();
    writeln!(src, "fn f({}) -> {} {{\n    {}\n}}", params.join(", "), type_name(&p.out), block(&p.body, "\n    ")).unwrap();
    GenProgram {
        source: src,
        args: p.args.iter().flatten().map(|s| ArgSpec { shape: s.clone() }).collect(),
        out_scalar: p.out.is_empty(),
        out_shape: p.out.clone(),
        smooth,
        features,
        size: tree_size(p),
    }
}

const NON_SMOOTH_FEATURES: &[&str] = &["relu", "abs", "sign", "floor", "ceil", "max2", "min2", "clamp", "max", "min", "gather", "argmax", "argmax_axis", "if_scalar", "select"];

fn collect_features(n: &Node, out: &mut BTreeSet<&'static str>, calls: &mut BTreeMap<usize, BTreeSet<Shape>>) {
    let f: &'static str = match &n.kind {
        Kind::Var(_) | Kind::Scale(..) => "",
        Kind::LoopIdx(_) => "loop_index",
        Kind::Lit(_) => "literal",
        Kind::TLit(_) => "tensor_literal",
        Kind::Un(op, _) => op.name(),
        Kind::Bin(op, a, b) => {
            if a.shape != b.shape {
                out.insert("broadcasting");
            }
            match op {
                Bin::Add => "add",
                Bin::Sub => "sub",
                Bin::Mul => "mul",
                Bin::Div => "div",
                Bin::Max => "max2",
                Bin::Min => "min2",
            }
        }
        Kind::PowI(_, k) => match k {
            0 => "powi_zero",
            k if *k < 0 => "powi_neg",
            _ => "powi",
        },
        Kind::PowF(_, _, func) => {
            if *func {
                "pow_fn"
            } else {
                "pow"
            }
        }
        Kind::Clamp(..) => "clamp",
        Kind::Reduce(op, axis, _) => {
            if let Some(k) = axis {
                out.insert(if *k < 0 { "reduce_neg_axis" } else { "reduce_axis" });
            }
            op.name()
        }
        Kind::MatMul(a, b) => match (a.shape.len(), b.shape.len()) {
            (1, 1) => "matmul_vv",
            (2, 1) => "matmul_mv",
            (1, 2) => "matmul_vm",
            (2, 2) => "matmul_mm",
            _ => "matmul_batch",
        },
        Kind::Transpose(true, _) => "transpose_T",
        Kind::Transpose(false, _) => "transpose_fn",
        Kind::Reshape(_) => "reshape",
        Kind::Broadcast(_) => "broadcast",
        Kind::Concat(..) => "concat",
        Kind::Stack(..) => "stack",
        Kind::Index(_, subs) => match &subs[..] {
            [Sub::Loop(_)] => "loop_row",
            [Sub::Idx(_)] => "index",
            [Sub::Idx(_), Sub::Idx(_)] => "index2",
            [Sub::Slice(..)] => "slice",
            [Sub::Full, Sub::Idx(_)] => "slice_col",
            _ => "index_slice",
        },
        Kind::Gather(..) => "gather",
        Kind::ArgMax(axis, _) => {
            if axis.is_some() {
                "argmax_axis"
            } else {
                "argmax"
            }
        }
        Kind::IfScalar { .. } => "if_scalar",
        Kind::Select { .. } => "select",
        Kind::Let(..) => "let",
        Kind::LetTuple { .. } => "let_tuple",
        Kind::Loop { .. } => "loop",
        Kind::Call(h, a, _) => {
            calls.entry(*h).or_default().insert(a.shape.clone());
            "call"
        }
        Kind::Lambda { typed, .. } => {
            if *typed {
                "lambda"
            } else {
                "lambda_untyped"
            }
        }
        Kind::Softmax { log, qualified, .. } => {
            if *qualified {
                out.insert("nn_qualified");
            }
            if *log {
                "log_softmax"
            } else {
                "softmax"
            }
        }
    };
    if !f.is_empty() {
        out.insert(f);
    }
    for k in n.kids() {
        collect_features(k, out, calls);
    }
}

fn tree_size(p: &Prog) -> usize {
    let helpers = p.helpers.iter().flatten().map(|h| match h {
        Helper::Elementwise(a) => a.count(),
        Helper::Tuple(a, b) => a.count() + b.count(),
    });
    p.body.count() + helpers.sum::<usize>()
}
