//! The reference interpreter of the IR: the oracle that the JIT and every derivative pass are
//! tested against, and what the simplifier's constant folding calls ([`eval_op`]). It is
//! exact to the semantics below and written to be read, not to be fast (but every kernel is
//! linear in the sizes of its operands and result, except `matmul`, which is `m·k·n`).
//!
//! - [`eval_op`] evaluates one node from its operand values: a pure function.
//! - [`run`] evaluates a whole graph: the live nodes in index (= topological) order, each
//!   intermediate freed after its last use.
//!
//! # Semantics (the contract the JIT must meet)
//!
//! Elementwise ops, `powi` and conversions are defined per element in
//! [`crate::ir::scalar`]. The rest, per op (see also [`crate::ir::op::Op`]):
//!
//! - `broadcast`: NumPy's rule, dimensions aligned at the right, a missing or size-1
//!   dimension repeats. `reshape` keeps the row-major order. `transpose{perm}`: result axis
//!   `i` is operand axis `perm[i]`. `slice` cuts `starts[i]..ends[i]` along every axis.
//!   `concat{axis}` joins its operands in order. `gather{axis}(x, i)` takes the slice at
//!   `i` along `axis` (removed); `i` outside `0..len` is [`EvalError::IndexOutOfRange`]
//!   (negative indices do not wrap). `iota{axis}`: each element is its index along `axis`,
//!   converted to the dtype like `convert` from `i64`. `select(c, a, b)`: `a` where `c`.
//! - Reductions (`reduce_*`): for each result element, the reduced elements are combined in
//!   row-major order of their positions in the reduced axes, sequentially, starting from the
//!   FIRST element: `acc = x0; acc = acc ⊕ x1; acc = acc ⊕ x2; …` (so the sum of `[-0.0]`
//!   is `-0.0`). `⊕` is the scalar `add` (sum), `mul` (prod), `max`/`min` (NaN propagates;
//!   at a tie the earlier element is kept, which matters for `±0`), and for `bool` `and`
//!   (all), `or` (any), `xor` (parity). `i64` sums and products wrap. An empty reduction
//!   gives the identity: sum `0` (`+0.0`), prod `1`, max `-inf` / `i64::MIN`, min `+inf` /
//!   `i64::MAX`, all `true`, any `false`, parity `false`.
//! - `argmax{axis}`: the `i64` index along `axis` (or the row-major index in the whole
//!   tensor when `None`) of the first maximum; a NaN counts as larger than everything, so
//!   the first NaN wins. Scanning is sequential: a later element replaces the best so far
//!   iff the best is not NaN and (the element is NaN or `element > best`). An empty scan is
//!   [`EvalError::EmptyArgMax`] (an empty result, e.g. `argmax{axis=0}` of `[0, 0]`, is not).
//! - `matmul`: `c[i, j] = Σ_k a[i, k] * b[k, j]`, accumulated sequentially `k = 0..K`
//!   starting from the first product: `acc = a0*b0; acc = acc + a1*b1; …` — each product
//!   and sum rounded to the element type (`f32` accumulates in `f32`; no fused
//!   multiply-add; `i64` wraps). `K = 0` gives `0` (`+0.0`). Rank 3 is a batch of
//!   independent rank-2 products.
//! - `custom_jvp`: its value is its last operand (the function's own value); its rule
//!   matters only to the JVP pass.
//!
//! Every result buffer is allocated fallibly (under the runtime's size limit), so a huge
//! shape is [`EvalError::Alloc`], never an abort.

mod elementwise;
mod layout;
mod reduce;

use std::borrow::Cow;
use std::fmt;

use gradc_runtime::tensor::{checked_len, AllocError, Buffer, Tensor};
use smallvec::SmallVec;

use crate::ir::graph::{Graph, NodeId};
use crate::ir::op::{Op, Source, Type};

/// Why evaluation stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// `gather` with an index outside `0..len`.
    IndexOutOfRange { index: i64, len: usize },
    /// Integer `div` or `rem` by zero.
    DivisionByZero,
    /// `argmax` over no elements.
    EmptyArgMax,
    /// A result too large for the machine.
    Alloc(AllocError),
    /// No value was given for an input.
    MissingInput(Source),
    /// An input value of another type than its node's (a bug in the caller).
    InputType { source: Source, expected: Type, found: Type },
    /// Operands that do not fit the op, or a node type that is not the op's result type
    /// (a bug in whoever built the graph; the verifier catches it first).
    IllTyped(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::IndexOutOfRange { index, len } => {
                write!(f, "index {index} is out of range for an axis of length {len}")
            }
            EvalError::DivisionByZero => f.write_str("integer division by zero"),
            EvalError::EmptyArgMax => f.write_str("argmax of an empty tensor"),
            EvalError::Alloc(e) => e.fmt(f),
            EvalError::MissingInput(s) => write!(f, "no value was given for {}", source_name(*s)),
            EvalError::InputType { source, expected, found } => write!(
                f,
                "the value given for {} is a {found}, but the program expects a {expected}",
                source_name(*source)
            ),
            EvalError::IllTyped(m) => write!(f, "ill-typed IR node (a compiler bug): {m}"),
        }
    }
}

impl std::error::Error for EvalError {}

fn source_name(s: Source) -> String {
    match s {
        Source::Arg(k) => format!("argument {k}"),
        Source::Param(k) => format!("parameter {k}"),
        Source::Data(k) => format!("data input {k}"),
        Source::Random(k) => format!("random draw {k} (lowering makes draws arguments)"),
    }
}

/// The values of a graph's inputs, indexed by [`Source`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Inputs<'a> {
    pub args: &'a [Tensor],
    pub params: &'a [Tensor],
    pub data: &'a [Tensor],
}

impl<'a> Inputs<'a> {
    pub fn get(&self, source: Source) -> Option<&'a Tensor> {
        match source {
            Source::Arg(k) => self.args.get(k as usize),
            Source::Param(k) => self.params.get(k as usize),
            Source::Data(k) => self.data.get(k as usize),
            Source::Random(_) => None,
        }
    }
}

/// The IR type of a tensor value.
pub fn type_of(t: &Tensor) -> Type {
    Type::new(t.dtype(), t.shape().to_vec())
}

/// Evaluates the graph's live nodes in index order and returns the outputs in
/// `graph.outputs` order. An error names the node that failed.
pub fn run(graph: &Graph, inputs: &Inputs) -> Result<Vec<Tensor>, (NodeId, EvalError)> {
    let live = graph.live();
    // Remaining uses of each value: one per operand slot of a live user, one per output.
    let mut uses = vec![0usize; graph.len()];
    for id in graph.ids().filter(|id| live[id.index()]) {
        for a in graph.args(id) {
            uses[a.index()] += 1;
        }
    }
    for &o in &graph.outputs {
        uses[o.index()] += 1;
    }
    // Inputs are borrowed, never copied; computed values are owned.
    let mut values: Vec<Option<Cow<Tensor>>> = (0..graph.len()).map(|_| None).collect();
    for id in graph.ids().filter(|id| live[id.index()]) {
        let node = graph.node(id);
        let args = graph.args(id);
        let value = match &node.op {
            Op::Input { source, .. } => {
                let t = inputs.get(*source).ok_or((id, EvalError::MissingInput(*source)))?;
                let found = type_of(t);
                if found != node.ty {
                    let e = EvalError::InputType { source: *source, expected: node.ty.clone(), found };
                    return Err((id, e));
                }
                Cow::Borrowed(t)
            }
            op => {
                let arg_values: SmallVec<[&Tensor; 3]> = args
                    .iter()
                    .map(|a| values[a.index()].as_deref().expect("an operand is evaluated before its users"))
                    .collect();
                Cow::Owned(eval_op(op, &node.ty, &arg_values).map_err(|e| (id, e))?)
            }
        };
        for a in &args {
            uses[a.index()] -= 1;
            if uses[a.index()] == 0 {
                values[a.index()] = None;
            }
        }
        values[id.index()] = Some(value);
    }
    let mut outputs = Vec::with_capacity(graph.outputs.len());
    for &o in &graph.outputs {
        uses[o.index()] -= 1;
        let t = if uses[o.index()] == 0 {
            values[o.index()].take().expect("outputs are live")
        } else {
            Cow::Borrowed(values[o.index()].as_deref().expect("outputs are live"))
        };
        outputs.push(match t {
            Cow::Owned(t) => t,
            Cow::Borrowed(t) => layout::copy(t).map_err(|e| (o, e))?,
        });
    }
    Ok(outputs)
}

/// Evaluates one node: `op` with result type `ty` on the operand values `args`. A pure
/// function of its arguments. `Input` has no value here ([`EvalError::MissingInput`]).
pub fn eval_op(op: &Op, ty: &Type, args: &[&Tensor]) -> Result<Tensor, EvalError> {
    let arg_types: SmallVec<[Type; 3]> = args.iter().map(|t| type_of(t)).collect();
    let arg_refs: SmallVec<[&Type; 3]> = arg_types.iter().collect();
    match op.result_type(&arg_refs) {
        Ok(t) if t == *ty => {}
        Ok(t) => {
            let m = format!("`{}` gives {t}, but the node's type is {ty}", op.name());
            return Err(EvalError::IllTyped(m));
        }
        Err(m) => return Err(EvalError::IllTyped(m)),
    }
    let data = match op {
        Op::Input { source, .. } => return Err(EvalError::MissingInput(*source)),
        Op::Const(c) => return layout::copy(c.tensor()),
        Op::Iota { axis, .. } => layout::iota(ty, *axis)?,
        Op::Unary(u) => elementwise::unary(*u, args[0], ty)?,
        Op::Binary(b) => elementwise::binary(*b, args[0], args[1], ty)?,
        Op::PowInt(n) => elementwise::powi(*n, args[0], ty)?,
        Op::Select => elementwise::select(args[0], args[1], args[2], ty)?,
        Op::Convert { .. } => elementwise::convert(args[0], ty)?,
        Op::Broadcast { .. } => layout::broadcast(args[0], ty)?,
        Op::Reshape { .. } => layout::copy(args[0])?.into_data(),
        Op::Transpose { perm } => layout::transpose(args[0], perm, ty)?,
        Op::Slice { starts, .. } => layout::slice(args[0], starts, ty)?,
        Op::Concat { axis } => layout::concat(args, *axis, ty)?,
        Op::Gather { axis } => layout::gather(args[0], args[1], *axis, ty)?,
        Op::Reduce { op, axes } => reduce::reduce(*op, args[0], axes, ty)?,
        Op::ArgMax { axis } => reduce::argmax(args[0], *axis, ty)?,
        Op::MatMul => reduce::matmul(args[0], args[1], ty)?,
        // The function's own value; its rule matters only to the JVP pass.
        Op::Custom { .. } => return layout::copy(args[args.len() - 1]),
    };
    Ok(Tensor::new(ty.shape.clone(), data).expect("a kernel's result has its type's length"))
}

/// An element type of a buffer, for kernels generic over it.
trait Elem: Copy {
    /// The elements of a buffer of this type (the caller has checked the dtype).
    fn slice(b: &Buffer) -> &[Self];
    fn wrap(v: Vec<Self>) -> Buffer;
}

macro_rules! elem {
    ($t:ty, $variant:ident) => {
        impl Elem for $t {
            fn slice(b: &Buffer) -> &[$t] {
                match b {
                    Buffer::$variant(v) => v,
                    _ => unreachable!("eval_op checked the operand types"),
                }
            }
            fn wrap(v: Vec<$t>) -> Buffer {
                Buffer::$variant(v)
            }
        }
    };
}

elem!(f64, F64);
elem!(f32, F32);
elem!(i64, I64);
elem!(bool, Bool);

/// Runs `$body` with `$T` the Rust type of the element type `$dtype`.
macro_rules! with_elem {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            gradc_runtime::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            gradc_runtime::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            gradc_runtime::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            gradc_runtime::tensor::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}
use with_elem;

/// An empty vector with room for a result of type `ty`, reserved fallibly.
fn alloc<T>(ty: &Type) -> Result<Vec<T>, EvalError> {
    let n = checked_len(ty.dtype, &ty.shape).map_err(EvalError::Alloc)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| EvalError::Alloc(AllocError { dtype: ty.dtype, shape: ty.shape.clone() }))?;
    Ok(v)
}

/// `f` of every element of `x`, into a fallibly allocated result of type `ty`.
fn map<T: Copy, U>(x: &[T], ty: &Type, f: impl Fn(T) -> U) -> Result<Vec<U>, EvalError> {
    let mut out = alloc(ty)?;
    out.extend(x.iter().map(|&e| f(e)));
    Ok(out)
}

/// `f` of every pair of elements of `a` and `b` (of one length), into a result of type `ty`.
fn zip<T: Copy, U>(a: &[T], b: &[T], ty: &Type, f: impl Fn(T, T) -> U) -> Result<Vec<U>, EvalError> {
    let mut out = alloc(ty)?;
    out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
    Ok(out)
}
