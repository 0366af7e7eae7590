//! The op table: every primitive of the IR, its attributes, its name in the text form, and
//! its type rule. Evaluation lives beside it in [`super::scalar`] (elementwise semantics)
//! and [`crate::interp`] (whole-tensor kernels); the derivative passes add their rules per op.
//!
//! Architecture Invariant: binary elementwise ops take operands of one shape — broadcasting
//! is always an explicit [`Op::Broadcast`], so every pass and backend sees equal shapes and
//! the transpose of a broadcast is a plain sum.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use gradc_runtime::tensor::{Buffer, DType, Tensor};

/// The type of a node: element type and concrete shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Type {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl Type {
    pub fn new(dtype: DType, shape: Vec<usize>) -> Type {
        Type { dtype, shape }
    }

    pub fn scalar(dtype: DType) -> Type {
        Type { dtype, shape: vec![] }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn with_dtype(&self, dtype: DType) -> Type {
        Type { dtype, shape: self.shape.clone() }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dtype)?;
        if !self.shape.is_empty() {
            let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
            write!(f, "[{}]", dims.join(", "))?;
        }
        Ok(())
    }
}

/// Where an input node's value comes from when the graph runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The k-th argument, counting tuple arguments leaf by leaf.
    Arg(u32),
    Param(u32),
    Data(u32),
    /// A fresh tensor of independent Rademacher (±1) entries, drawn at every evaluation
    /// (the directions of `laplacian(f, samples = S)`). The number only tells draws apart;
    /// the passes treat it as a constant, and lowering a statement or a loss turns it into an
    /// `Arg` input that the runner fills from its seeded generator ([`crate::lower::Draw`]).
    Random(u32),
}

/// Elementwise functions of one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg, Not, Exp, Log, Sin, Cos, Tan, Tanh, Sigmoid, Relu, Softplus, Gelu, Sqrt, Abs, Sign,
    Floor, Ceil, Erf,
}

/// Elementwise functions of two operands of one shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add, Sub, Mul, Div, Rem, Pow, Max, Min, Eq, Ne, Lt, Le, Gt, Ge, And, Or, Xor,
}

/// Reductions over a set of axes (the axes are removed from the shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum, Prod, Max, Min,
    /// AND over `bool`.
    All,
    /// OR over `bool`.
    Any,
    /// XOR over `bool`.
    Parity,
}

/// A constant tensor, compared and hashed by bit pattern (so `-0.0` and `0.0` differ, and a
/// NaN equals itself: what common-subexpression elimination needs).
#[derive(Clone, Debug)]
pub struct Const(pub Arc<Tensor>);

impl Const {
    pub fn tensor(&self) -> &Tensor {
        &self.0
    }

    fn bits(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self.0.data() {
            Buffer::F64(v) => Box::new(v.iter().map(|x| x.to_bits())),
            Buffer::F32(v) => Box::new(v.iter().map(|x| x.to_bits() as u64)),
            Buffer::I64(v) => Box::new(v.iter().map(|&x| x as u64)),
            Buffer::Bool(v) => Box::new(v.iter().map(|&x| x as u64)),
        }
    }

    /// The value of every element if they are all the same (a splat), as `f64`.
    /// For an `i64` constant, only where the value is exact as an `f64`.
    pub fn splat(&self) -> Option<f64> {
        let t = &self.0;
        if t.is_empty() {
            return None;
        }
        let mut bits = self.bits();
        let first = bits.next()?;
        if !bits.all(|b| b == first) {
            return None;
        }
        let v = t.data().get_f64(0);
        match t.data() {
            Buffer::I64(x) if v as i64 != x[0] || x[0] == i64::MIN => None,
            _ => Some(v),
        }
    }
}

impl PartialEq for Const {
    fn eq(&self, other: &Const) -> bool {
        self.0.dtype() == other.0.dtype()
            && self.0.shape() == other.0.shape()
            && self.bits().eq(other.bits())
    }
}

impl Eq for Const {}

impl Hash for Const {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.dtype().hash(state);
        self.0.shape().hash(state);
        for b in self.bits() {
            b.hash(state);
        }
    }
}

/// A primitive operation. Operand counts and meanings are in each variant's doc; the
/// result type is [`Op::result_type`] of the operand types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// No operands: a graph input.
    Input { source: Source, ty: Type },
    /// No operands: a constant.
    Const(Const),
    /// No operands: each element is its index along `axis`, converted to the dtype.
    Iota { ty: Type, axis: usize },
    /// One operand, elementwise.
    Unary(UnaryOp),
    /// Two operands of one type, elementwise.
    Binary(BinaryOp),
    /// One float operand to a constant integer power, by exact repeated multiplication
    /// (binary exponentiation; a negative power is the reciprocal of the positive one).
    PowInt(i64),
    /// `select(c, a, b)`: `a` where the `bool` `c` is true, else `b`; all of one shape.
    Select,
    /// One operand converted to `to` (floats to `i64` truncate toward zero and saturate;
    /// anything to `bool` is `!= 0`).
    Convert { to: DType },
    /// One operand broadcast to `shape` by NumPy's rules (dimensions aligned at the right;
    /// a missing or size-1 dimension repeats).
    Broadcast { shape: Vec<usize> },
    /// One operand with the same elements in row-major order under `shape`.
    Reshape { shape: Vec<usize> },
    /// One operand with its axes permuted: result axis `i` is operand axis `perm[i]`.
    Transpose { perm: Vec<usize> },
    /// One operand cut to `starts[i]..ends[i]` along every axis `i` (rank kept).
    Slice { starts: Vec<usize>, ends: Vec<usize> },
    /// Any number (≥ 1) of operands joined along `axis`; the other dimensions agree.
    Concat { axis: usize },
    /// `gather(x, i)`: the slice of `x` at the `i64` scalar `i` along `axis`, which is
    /// removed. An index outside `0..len` is a run-time error.
    Gather { axis: usize },
    /// One operand reduced over `axes` (sorted, distinct), which are removed.
    Reduce { op: ReduceOp, axes: Vec<usize> },
    /// The `i64` index of the first maximum along `axis` (removed), or of the whole tensor in
    /// row-major order when `None`. NaN counts as larger than everything (as NumPy).
    ArgMax { axis: Option<usize> },
    /// `[…, m, k] @ […, k, n] -> […, m, n]`: ranks 2 or 3, equal batch dimensions.
    MatMul,
    /// A function with its own forward rule (`with jvp`): operands are the function's
    /// argument leaves, then one leaf of its result, which is also the op's value. The JVP
    /// pass differentiates the `rule` graph instead of the function's body; `output` says
    /// which of the rule's outputs is this leaf's tangent.
    Custom { rule: Rule, output: usize },
}

/// A user forward rule as a graph: inputs `Arg(0..n)` are the primal argument leaves,
/// `Arg(n..2n)` their tangents; outputs are the tangents of the result's leaves. Compared
/// and hashed by identity: one rule per function instance.
#[derive(Clone, Debug)]
pub struct Rule {
    pub graph: Arc<super::Graph>,
    pub name: Arc<str>,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        Arc::ptr_eq(&self.graph, &other.graph)
    }
}

impl Eq for Rule {}

impl Hash for Rule {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.graph).hash(state);
    }
}

impl UnaryOp {
    pub const ALL: [UnaryOp; 18] = [
        UnaryOp::Neg, UnaryOp::Not, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sin, UnaryOp::Cos,
        UnaryOp::Tan, UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Softplus,
        UnaryOp::Gelu, UnaryOp::Sqrt, UnaryOp::Abs, UnaryOp::Sign, UnaryOp::Floor, UnaryOp::Ceil,
        UnaryOp::Erf,
    ];

    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg", Not => "not", Exp => "exp", Log => "log", Sin => "sin", Cos => "cos",
            Tan => "tan", Tanh => "tanh", Sigmoid => "sigmoid", Relu => "relu",
            Softplus => "softplus", Gelu => "gelu", Sqrt => "sqrt", Abs => "abs", Sign => "sign",
            Floor => "floor", Ceil => "ceil", Erf => "erf",
        }
    }

    /// Which operand types the op accepts.
    fn accepts(self, d: DType) -> bool {
        use UnaryOp::*;
        match self {
            Not => d == DType::Bool,
            Neg | Abs | Sign => d != DType::Bool,
            _ => d.is_float(),
        }
    }
}

impl BinaryOp {
    pub const ALL: [BinaryOp; 17] = [
        BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Rem,
        BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min, BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt,
        BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge, BinaryOp::And, BinaryOp::Or, BinaryOp::Xor,
    ];

    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add", Sub => "sub", Mul => "mul", Div => "div", Rem => "rem", Pow => "pow",
            Max => "max", Min => "min", Eq => "eq", Ne => "ne", Lt => "lt", Le => "le",
            Gt => "gt", Ge => "ge", And => "and", Or => "or", Xor => "xor",
        }
    }

    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }

    fn accepts(self, d: DType) -> bool {
        use BinaryOp::*;
        match self {
            And | Or | Xor => d == DType::Bool,
            Eq | Ne => true,
            Pow => d.is_float(),
            _ => d != DType::Bool,
        }
    }
}

impl ReduceOp {
    pub fn name(self) -> &'static str {
        use ReduceOp::*;
        match self {
            Sum => "sum", Prod => "prod", Max => "max", Min => "min", All => "all", Any => "any",
            Parity => "parity",
        }
    }

    fn accepts(self, d: DType) -> bool {
        match self {
            ReduceOp::All | ReduceOp::Any | ReduceOp::Parity => d == DType::Bool,
            _ => d != DType::Bool,
        }
    }
}

impl Op {
    /// The op's name in the text form.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Const(_) => "const",
            Op::Iota { .. } => "iota",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::PowInt(_) => "powi",
            Op::Select => "select",
            Op::Convert { .. } => "convert",
            Op::Broadcast { .. } => "broadcast",
            Op::Reshape { .. } => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Slice { .. } => "slice",
            Op::Concat { .. } => "concat",
            Op::Gather { .. } => "gather",
            Op::Reduce { op, .. } => match op {
                ReduceOp::Sum => "reduce_sum",
                ReduceOp::Prod => "reduce_prod",
                ReduceOp::Max => "reduce_max",
                ReduceOp::Min => "reduce_min",
                ReduceOp::All => "reduce_all",
                ReduceOp::Any => "reduce_any",
                ReduceOp::Parity => "reduce_parity",
            },
            Op::ArgMax { .. } => "argmax",
            Op::MatMul => "matmul",
            Op::Custom { .. } => "custom_jvp",
        }
    }

    /// The attributes in the text form, e.g. `axes=[0, 1]`; empty when there are none.
    pub fn attrs(&self) -> String {
        match self {
            Op::Input { source, .. } => match source {
                Source::Arg(k) => format!("arg{k}"),
                Source::Param(k) => format!("param{k}"),
                Source::Data(k) => format!("data{k}"),
                Source::Random(k) => format!("random{k}"),
            },
            Op::Const(c) => format_const(c.tensor()),
            Op::Iota { axis, .. } => format!("axis={axis}"),
            Op::PowInt(n) => n.to_string(),
            Op::Broadcast { .. } | Op::Reshape { .. } | Op::Convert { .. } => String::new(),
            Op::Transpose { perm } => format!("perm={perm:?}"),
            Op::Slice { starts, ends } => {
                let r: Vec<String> =
                    starts.iter().zip(ends).map(|(s, e)| format!("{s}:{e}")).collect();
                format!("[{}]", r.join(", "))
            }
            Op::Concat { axis } | Op::Gather { axis } => format!("axis={axis}"),
            Op::Reduce { axes, .. } => format!("axes={axes:?}"),
            Op::ArgMax { axis: Some(a) } => format!("axis={a}"),
            Op::Custom { rule, output } => format!("{}#{output}", rule.name),
            _ => String::new(),
        }
    }

    /// Whether the op has no operands.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Input { .. } | Op::Const(_) | Op::Iota { .. })
    }

    /// The result type for these operand types, or why they do not fit. The verifier
    /// checks every node's stored type against this rule.
    pub fn result_type(&self, args: &[&Type]) -> Result<Type, String> {
        let arity = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("`{}` takes {n} operand(s), got {}", self.name(), args.len()))
            }
        };
        match self {
            Op::Input { ty, .. } | Op::Iota { ty, .. } => {
                arity(0)?;
                if let Op::Iota { axis, .. } = self {
                    if *axis >= ty.rank() {
                        return Err(format!("iota axis {axis} outside rank {}", ty.rank()));
                    }
                }
                Ok(ty.clone())
            }
            Op::Const(c) => {
                arity(0)?;
                Ok(Type::new(c.tensor().dtype(), c.tensor().shape().to_vec()))
            }
            Op::Unary(u) => {
                arity(1)?;
                if !u.accepts(args[0].dtype) {
                    return Err(format!("`{}` does not take {}", u.name(), args[0].dtype));
                }
                Ok(args[0].clone())
            }
            Op::Binary(b) => {
                arity(2)?;
                if args[0] != args[1] {
                    return Err(format!("`{}` operands differ: {} and {}", b.name(), args[0], args[1]));
                }
                if !b.accepts(args[0].dtype) {
                    return Err(format!("`{}` does not take {}", b.name(), args[0].dtype));
                }
                let dtype = if b.is_comparison() { DType::Bool } else { args[0].dtype };
                Ok(args[0].with_dtype(dtype))
            }
            Op::PowInt(_) => {
                arity(1)?;
                if !args[0].dtype.is_float() {
                    return Err(format!("`powi` does not take {}", args[0].dtype));
                }
                Ok(args[0].clone())
            }
            Op::Select => {
                arity(3)?;
                if args[0].dtype != DType::Bool || args[0].shape != args[1].shape || args[1] != args[2] {
                    return Err(format!("`select` takes bool, T, T of one shape, got {}, {}, {}", args[0], args[1], args[2]));
                }
                Ok(args[1].clone())
            }
            Op::Convert { to } => {
                arity(1)?;
                Ok(args[0].with_dtype(*to))
            }
            Op::Broadcast { shape } => {
                arity(1)?;
                if !broadcasts_to(&args[0].shape, shape) {
                    return Err(format!("{} does not broadcast to {shape:?}", args[0]));
                }
                Ok(Type::new(args[0].dtype, shape.clone()))
            }
            Op::Reshape { shape } => {
                arity(1)?;
                if shape.iter().product::<usize>() != args[0].len() {
                    return Err(format!("reshape of {} to {shape:?} changes the length", args[0]));
                }
                Ok(Type::new(args[0].dtype, shape.clone()))
            }
            Op::Transpose { perm } => {
                arity(1)?;
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..args[0].rank()).collect::<Vec<_>>() {
                    return Err(format!("{perm:?} is not a permutation of the axes of {}", args[0]));
                }
                Ok(Type::new(args[0].dtype, perm.iter().map(|&p| args[0].shape[p]).collect()))
            }
            Op::Slice { starts, ends } => {
                arity(1)?;
                let t = args[0];
                if starts.len() != t.rank() || ends.len() != t.rank() {
                    return Err(format!("slice bounds do not match the rank of {t}"));
                }
                for i in 0..t.rank() {
                    if starts[i] > ends[i] || ends[i] > t.shape[i] {
                        return Err(format!("slice {}:{} outside axis {i} of {t}", starts[i], ends[i]));
                    }
                }
                Ok(Type::new(t.dtype, starts.iter().zip(ends).map(|(s, e)| e - s).collect()))
            }
            Op::Concat { axis } => {
                let Some(first) = args.first() else {
                    return Err("`concat` needs at least one operand".into());
                };
                if *axis >= first.rank() {
                    return Err(format!("concat axis {axis} outside rank {}", first.rank()));
                }
                let mut shape = first.shape.clone();
                for a in &args[1..] {
                    let same = a.dtype == first.dtype
                        && a.rank() == first.rank()
                        && (0..a.rank()).all(|i| i == *axis || a.shape[i] == first.shape[i]);
                    if !same {
                        return Err(format!("`concat` operands {first} and {a} do not fit"));
                    }
                    shape[*axis] += a.shape[*axis];
                }
                Ok(Type::new(first.dtype, shape))
            }
            Op::Gather { axis } => {
                arity(2)?;
                if *axis >= args[0].rank() || *args[1] != Type::scalar(DType::I64) {
                    return Err(format!("`gather` takes a tensor and an i64 scalar, got {} and {}", args[0], args[1]));
                }
                let mut shape = args[0].shape.clone();
                shape.remove(*axis);
                Ok(Type::new(args[0].dtype, shape))
            }
            Op::Reduce { op, axes } => {
                arity(1)?;
                if !op.accepts(args[0].dtype) {
                    return Err(format!("`{}` does not take {}", self.name(), args[0].dtype));
                }
                if !axes.windows(2).all(|w| w[0] < w[1]) || axes.last().is_some_and(|&a| a >= args[0].rank()) {
                    return Err(format!("axes {axes:?} are not sorted distinct axes of {}", args[0]));
                }
                let shape = (0..args[0].rank())
                    .filter(|i| !axes.contains(i))
                    .map(|i| args[0].shape[i])
                    .collect();
                Ok(Type::new(args[0].dtype, shape))
            }
            Op::ArgMax { axis } => {
                arity(1)?;
                if args[0].dtype == DType::Bool {
                    return Err("`argmax` does not take bool".into());
                }
                let shape = match axis {
                    None => vec![],
                    Some(a) if *a < args[0].rank() => {
                        let mut s = args[0].shape.clone();
                        s.remove(*a);
                        s
                    }
                    Some(a) => return Err(format!("argmax axis {a} outside rank {}", args[0].rank())),
                };
                Ok(Type::new(DType::I64, shape))
            }
            Op::MatMul => {
                arity(2)?;
                let (a, b) = (args[0], args[1]);
                let r = a.rank();
                let fits = a.dtype == b.dtype
                    && a.dtype != DType::Bool
                    && (r == 2 || r == 3)
                    && b.rank() == r
                    && a.shape[..r - 2] == b.shape[..r - 2]
                    && a.shape[r - 1] == b.shape[r - 2];
                if !fits {
                    return Err(format!("`matmul` of {a} and {b}"));
                }
                let mut shape = a.shape[..r - 1].to_vec();
                shape.push(b.shape[r - 1]);
                Ok(Type::new(a.dtype, shape))
            }
            Op::Custom { .. } => match args.last() {
                Some(t) => Ok((*t).clone()),
                None => Err("`custom_jvp` needs its value as the last operand".into()),
            },
        }
    }
}

/// NumPy's rule: `from` aligned at the right, each dimension equal or 1.
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from.iter().rev().zip(to.iter().rev()).all(|(&f, &t)| f == t || f == 1)
}

/// A constant in the text form: a scalar as its value, a small tensor in full, a large one
/// by its first elements.
fn format_const(t: &Tensor) -> String {
    let items: Vec<String> =
        (0..t.len().min(8)).map(|i| gradc_runtime::format::element(t.data(), i)).collect();
    if t.rank() == 0 {
        return items.concat();
    }
    let more = if t.len() > 8 { ", …" } else { "" };
    format!("[{}{more}]", items.join(", "))
}
