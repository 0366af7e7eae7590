//! The simplifier's contract as a property: on random well-typed graphs, `simplify` gives a
//! graph that verifies, is no larger, and computes the same bits on inputs full of signed
//! zeros, infinities and NaN ("no rewrite changes an IEEE result").
//!
//! Graphs are built from a recipe of steps with `Graph::add`; a step whose operands do not fit
//! is skipped, so every recipe gives a graph and proptest can shrink recipes freely. The
//! default is 512 cases from a fixed seed; `PROPTEST_CASES=100000` runs more, and
//! `PROPTEST_RNG_SEED=<n>` explores other graphs.

use std::sync::Arc;

use gradc_compiler::interp::{self, Inputs};
use gradc_compiler::ir::op::Const;
use gradc_compiler::ir::print::print_all;
use gradc_compiler::ir::verify::verify;
use gradc_compiler::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type, UnaryOp};
use gradc_compiler::passes::simplify::simplify;
use gradc_runtime::tensor::{Buffer, DType, Tensor};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Most nodes a generated graph has.
const MAX_NODES: usize = 40;

/// Shapes of inputs.
const INPUT_SHAPES: [&[usize]; 3] = [&[], &[3], &[2, 3]];

/// Targets of broadcasts and reshapes (a step whose target does not fit is skipped).
const SHAPES: [&[usize]; 12] = [&[], &[1], &[3], &[6], &[1, 3], &[2, 1], &[3, 1], &[2, 3], &[3, 2], &[1, 6], &[2, 2, 3], &[1, 2, 3]];

const UNARY: [UnaryOp; 17] = [
    UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sin, UnaryOp::Cos, UnaryOp::Tan, UnaryOp::Tanh,
    UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Softplus, UnaryOp::Gelu, UnaryOp::Sqrt, UnaryOp::Abs,
    UnaryOp::Sign, UnaryOp::Floor, UnaryOp::Ceil, UnaryOp::Erf,
];

/// Arithmetic, the first four twice as likely (they are what the identities are about).
const ARITH: [BinaryOp; 12] = [
    BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul,
    BinaryOp::Div, BinaryOp::Rem, BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min,
];

const COMPARE: [BinaryOp; 6] = [BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt, BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge];

const LOGIC: [BinaryOp; 3] = [BinaryOp::And, BinaryOp::Or, BinaryOp::Xor];

const REDUCE: [ReduceOp; 4] = [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Sum, ReduceOp::Max];

/// One step of a recipe. Operands are seeds, taken modulo the nodes that fit.
#[derive(Clone, Debug)]
enum Step {
    /// A float constant of the shape of an existing node: a splat of `vals[0]`, or `vals`.
    Const { like: u16, splat: bool, vals: Vec<f64> },
    /// A `bool` splat of the shape of an existing node.
    BoolConst { like: u16, v: bool },
    Unary { op: u8, a: u16 },
    /// `neg`, separately so that negations are common.
    Neg { a: u16 },
    Binary { op: u8, a: u16, b: u16 },
    PowInt { n: i64, a: u16 },
    Compare { op: u8, a: u16, b: u16 },
    /// `and`/`or`/`xor` of two `bool` nodes, or `not` of one (`op == 3`).
    Logic { op: u8, a: u16, b: u16 },
    Select { c: u16, a: u16, b: u16 },
    /// `bool` to `f64` or `f64` to `bool`.
    Convert { a: u16 },
    Broadcast { a: u16, shape: u8 },
    Reshape { a: u16, shape: u8 },
    Transpose { a: u16, perm: u8 },
    Slice { a: u16, cuts: [u8; 6] },
    Reduce { op: u8, a: u16, axes: u8 },
    /// `b % 4 == 0` makes a concat of one operand.
    Concat { a: u16, b: u16, axis: u8 },
}

#[derive(Clone, Debug)]
struct Recipe {
    /// Shapes of the inputs (indices into `INPUT_SHAPES`).
    inputs: Vec<u8>,
    steps: Vec<Step>,
    /// Extra outputs besides the last node.
    outputs: Vec<u16>,
    /// Input values: per sample, 6 elements per input.
    samples: Vec<Vec<f64>>,
}

/// The special values, often, and now and then an ordinary one.
fn special() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => Just(0.0),
        3 => Just(-0.0),
        2 => Just(1.0),
        2 => Just(-1.0),
        1 => Just(2.0),
        1 => Just(0.5),
        2 => Just(f64::INFINITY),
        2 => Just(f64::NEG_INFINITY),
        2 => Just(f64::NAN),
        3 => -4.0..4.0f64,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let seed = any::<u16>;
    prop_oneof![
        3 => (seed(), any::<bool>(), prop::collection::vec(special(), 6)).prop_map(|(like, splat, vals)| Step::Const { like, splat, vals }),
        1 => (seed(), any::<bool>()).prop_map(|(like, v)| Step::BoolConst { like, v }),
        3 => (any::<u8>(), seed()).prop_map(|(op, a)| Step::Unary { op, a }),
        1 => seed().prop_map(|a| Step::Neg { a }),
        6 => (any::<u8>(), seed(), seed()).prop_map(|(op, a, b)| Step::Binary { op, a, b }),
        1 => (-3i64..=3, seed()).prop_map(|(n, a)| Step::PowInt { n, a }),
        2 => (any::<u8>(), seed(), seed()).prop_map(|(op, a, b)| Step::Compare { op, a, b }),
        1 => (0u8..4, seed(), seed()).prop_map(|(op, a, b)| Step::Logic { op, a, b }),
        2 => (seed(), seed(), seed()).prop_map(|(c, a, b)| Step::Select { c, a, b }),
        1 => seed().prop_map(|a| Step::Convert { a }),
        2 => (seed(), any::<u8>()).prop_map(|(a, shape)| Step::Broadcast { a, shape }),
        1 => (seed(), any::<u8>()).prop_map(|(a, shape)| Step::Reshape { a, shape }),
        1 => (seed(), any::<u8>()).prop_map(|(a, perm)| Step::Transpose { a, perm }),
        1 => (seed(), any::<[u8; 6]>()).prop_map(|(a, cuts)| Step::Slice { a, cuts }),
        1 => (any::<u8>(), seed(), any::<u8>()).prop_map(|(op, a, axes)| Step::Reduce { op, a, axes }),
        1 => (seed(), seed(), any::<u8>()).prop_map(|(a, b, axis)| Step::Concat { a, b, axis }),
    ]
}

fn recipe() -> impl Strategy<Value = Recipe> {
    (
        prop::collection::vec(0u8..3, 1..=3),
        prop::collection::vec(step(), 2..=40),
        prop::collection::vec(any::<u16>(), 0..=2),
        prop::collection::vec(prop::collection::vec(special(), 18), 3),
    )
        .prop_map(|(inputs, steps, outputs, samples)| Recipe { inputs, steps, outputs, samples })
}

/// The nodes of `g` for which `keep` holds, in order.
fn matching(g: &Graph, keep: impl Fn(&Type) -> bool) -> Vec<NodeId> {
    g.ids().filter(|&id| keep(g.ty(id))).collect()
}

/// The node that `seed` picks among those for which `keep` holds.
fn pick(g: &Graph, seed: u16, keep: impl Fn(&Type) -> bool) -> Option<NodeId> {
    let c = matching(g, keep);
    (!c.is_empty()).then(|| c[seed as usize % c.len()])
}

fn is_f64(t: &Type) -> bool {
    t.dtype == DType::F64
}

fn is_bool(t: &Type) -> bool {
    t.dtype == DType::Bool
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

/// The graph of a recipe: inputs, then every step that fits, until `MAX_NODES`.
fn build(r: &Recipe) -> Graph {
    let mut g = Graph::new("random");
    for (k, &s) in r.inputs.iter().enumerate() {
        let ty = Type::new(DType::F64, INPUT_SHAPES[s as usize].to_vec());
        g.add(Op::Input { source: Source::Arg(k as u32), ty }, &[]).expect("an input");
    }
    for step in &r.steps {
        if g.len() >= MAX_NODES {
            break;
        }
        // Ops that do not fit are skipped: `Err` from `Graph::add` is fine.
        let _ = add_step(&mut g, step);
    }
    let last = NodeId::new(g.len() - 1);
    g.outputs = vec![last];
    for &o in &r.outputs {
        g.outputs.push(NodeId::new(o as usize % g.len()));
    }
    g
}

fn add_step(g: &mut Graph, step: &Step) -> Result<NodeId, String> {
    let none = || "no operand fits".to_string();
    let any = |_: &Type| true;
    match step {
        Step::Const { like, splat, vals } => {
            let shape = g.ty(pick(g, *like, any).ok_or_else(none)?).shape.clone();
            let n: usize = shape.iter().product();
            let data: Vec<f64> = (0..n).map(|i| if *splat { vals[0] } else { vals[i % vals.len()] }).collect();
            let t = Tensor::new(shape, Buffer::F64(data)).expect("the length fits");
            g.add(Op::Const(Const(Arc::new(t))), &[])
        }
        Step::BoolConst { like, v } => {
            let shape = g.ty(pick(g, *like, any).ok_or_else(none)?).shape.clone();
            let n: usize = shape.iter().product();
            let t = Tensor::new(shape, Buffer::Bool(vec![*v; n])).expect("the length fits");
            g.add(Op::Const(Const(Arc::new(t))), &[])
        }
        Step::Unary { op, a } => {
            let a = pick(g, *a, is_f64).ok_or_else(none)?;
            g.add(Op::Unary(UNARY[*op as usize % UNARY.len()]), &[a])
        }
        Step::Neg { a } => {
            let a = pick(g, *a, is_f64).ok_or_else(none)?;
            g.add(Op::Unary(UnaryOp::Neg), &[a])
        }
        Step::Binary { op, a, b } => {
            let a = pick(g, *a, is_f64).ok_or_else(none)?;
            let ta = g.ty(a).clone();
            let b = pick(g, *b, |t| *t == ta).ok_or_else(none)?;
            g.add(Op::Binary(ARITH[*op as usize % ARITH.len()]), &[a, b])
        }
        Step::PowInt { n, a } => {
            let a = pick(g, *a, is_f64).ok_or_else(none)?;
            g.add(Op::PowInt(*n), &[a])
        }
        Step::Compare { op, a, b } => {
            let a = pick(g, *a, is_f64).ok_or_else(none)?;
            let ta = g.ty(a).clone();
            let b = pick(g, *b, |t| *t == ta).ok_or_else(none)?;
            g.add(Op::Binary(COMPARE[*op as usize % COMPARE.len()]), &[a, b])
        }
        Step::Logic { op, a, b } => {
            let a = pick(g, *a, is_bool).ok_or_else(none)?;
            if *op == 3 {
                return g.add(Op::Unary(UnaryOp::Not), &[a]);
            }
            let ta = g.ty(a).clone();
            let b = pick(g, *b, |t| *t == ta).ok_or_else(none)?;
            g.add(Op::Binary(LOGIC[*op as usize % LOGIC.len()]), &[a, b])
        }
        Step::Select { c, a, b } => {
            let c = pick(g, *c, is_bool).ok_or_else(none)?;
            let shape = g.ty(c).shape.clone();
            let a = pick(g, *a, |t| is_f64(t) && t.shape == shape).ok_or_else(none)?;
            let b = pick(g, *b, |t| is_f64(t) && t.shape == shape).ok_or_else(none)?;
            g.add(Op::Select, &[c, a, b])
        }
        Step::Convert { a } => {
            let a = pick(g, *a, any).ok_or_else(none)?;
            let to = if g.ty(a).dtype == DType::Bool { DType::F64 } else { DType::Bool };
            g.add(Op::Convert { to }, &[a])
        }
        Step::Broadcast { a, shape } => {
            let a = pick(g, *a, any).ok_or_else(none)?;
            g.add(Op::Broadcast { shape: SHAPES[*shape as usize % SHAPES.len()].to_vec() }, &[a])
        }
        Step::Reshape { a, shape } => {
            let a = pick(g, *a, any).ok_or_else(none)?;
            let len = g.ty(a).len();
            let fits: Vec<&[usize]> = SHAPES.iter().copied().filter(|s| s.iter().product::<usize>() == len).collect();
            let target = fits.get(*shape as usize % fits.len().max(1)).ok_or_else(none)?;
            g.add(Op::Reshape { shape: target.to_vec() }, &[a])
        }
        Step::Transpose { a, perm } => {
            let a = pick(g, *a, any).ok_or_else(none)?;
            let perms = permutations(g.ty(a).rank());
            g.add(Op::Transpose { perm: perms[*perm as usize % perms.len()].clone() }, &[a])
        }
        Step::Slice { a, cuts } => {
            let a = pick(g, *a, |t| t.rank() <= 3).ok_or_else(none)?;
            let shape = g.ty(a).shape.clone();
            let (mut starts, mut ends) = (Vec::new(), Vec::new());
            for (i, &d) in shape.iter().enumerate() {
                if d == 0 {
                    return Err(none());
                }
                let s = cuts[2 * i] as usize % d;
                starts.push(s);
                ends.push(s + 1 + cuts[2 * i + 1] as usize % (d - s));
            }
            g.add(Op::Slice { starts, ends }, &[a])
        }
        Step::Reduce { op, a, axes } => {
            let a = pick(g, *a, is_f64).ok_or_else(none)?;
            let axes: Vec<usize> = (0..g.ty(a).rank()).filter(|i| axes & (1 << i) != 0).collect();
            g.add(Op::Reduce { op: REDUCE[*op as usize % REDUCE.len()], axes }, &[a])
        }
        Step::Concat { a, b, axis } => {
            let a = pick(g, *a, |t| t.rank() >= 1).ok_or_else(none)?;
            let ta = g.ty(a).clone();
            let axis = *axis as usize % ta.rank();
            if *b % 4 == 0 {
                return g.add(Op::Concat { axis }, &[a]);
            }
            let b = pick(g, *b, |t| t.dtype == ta.dtype && t.rank() == ta.rank()).ok_or_else(none)?;
            g.add(Op::Concat { axis }, &[a, b])
        }
    }
}

/// The input values of sample `s`.
fn args(g: &Graph, r: &Recipe, s: usize) -> Vec<Tensor> {
    let mut args: Vec<Tensor> = Vec::new();
    for (id, source) in g.inputs() {
        let Source::Arg(k) = source else { unreachable!() };
        let ty = g.ty(id);
        let vals = &r.samples[s][k as usize * 6..k as usize * 6 + 6];
        let data: Vec<f64> = (0..ty.len()).map(|i| vals[i]).collect();
        args.push(Tensor::new(ty.shape.clone(), Buffer::F64(data)).expect("the length fits"));
    }
    args
}

/// How two results are compared: every bit except those of a NaN (IEEE leaves a NaN's sign
/// and payload unspecified for arithmetic).
#[derive(Clone, Copy)]
enum Compare {
    NanIsNan,
}

/// How much larger than the original the simplified graph may be.
#[derive(Clone, Copy)]
enum Growth {
    /// Not in computing nodes (see [`computing`]); splats may be spelled with a node more.
    SplatsOnly,
}

/// The nodes that compute: all but constants and broadcasts of constants. A splat value of
/// rank > 0 is written `broadcast(const)`, two nodes, wherever the simplifier makes one.
fn computing(g: &Graph) -> usize {
    let splat = |id: NodeId| match g.op(id) {
        Op::Const(_) => true,
        Op::Broadcast { .. } => matches!(g.op(g.args(id)[0]), Op::Const(_)),
        _ => false,
    };
    g.ids().filter(|&id| !splat(id)).count()
}

fn key(t: &Tensor, how: Compare) -> (DType, Vec<usize>, Vec<u64>) {
    let canon = |b: u64, nan: bool| if nan && matches!(how, Compare::NanIsNan) { u64::MAX } else { b };
    let bits = match t.data() {
        Buffer::F64(v) => v.iter().map(|x| canon(x.to_bits(), x.is_nan())).collect(),
        Buffer::F32(v) => v.iter().map(|x| canon(x.to_bits() as u64, x.is_nan())).collect(),
        Buffer::I64(v) => v.iter().map(|&x| x as u64).collect(),
        Buffer::Bool(v) => v.iter().map(|&x| x as u64).collect(),
    };
    (t.dtype(), t.shape().to_vec(), bits)
}

/// Values, with the bits of each NaN.
fn show(ts: &[Tensor]) -> String {
    let one = |x: f64| if x.is_nan() { format!("NaN({:#x})", x.to_bits()) } else { format!("{x:?}") };
    let vs: Vec<Vec<String>> = ts.iter().map(|t| t.to_f64_vec().into_iter().map(one).collect()).collect();
    format!("{vs:?}")
}

/// Runs a graph; an error or a panic of the interpreter fails the case with the graph shown.
fn run(g: &Graph, inputs: &Inputs, what: &str) -> Result<Vec<Tensor>, TestCaseError> {
    let fail = |why: String| TestCaseError::fail(format!("{what} {why} on inputs {}\n{}", show(inputs.args), print_all(g)));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| interp::run(g, inputs))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err((n, e))) => Err(fail(format!("fails at %{}: {e}", n.index()))),
        Err(p) => {
            let m = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
            Err(fail(format!("panics in the interpreter: {}", m.unwrap_or_default())))
        }
    }
}

/// The property, for one recipe.
fn check(r: &Recipe, how: Compare, growth: Growth) -> Result<(), TestCaseError> {
    let g = build(r);
    prop_assert!(verify(&g).is_ok(), "the generated graph does not verify: {:?}\n{}", verify(&g), print_all(&g));
    let s = simplify(&g);
    prop_assert!(verify(&s).is_ok(), "the simplified graph does not verify: {:?}\n{}\nfrom\n{}", verify(&s), print_all(&s), print_all(&g));
    let grew = match growth {
        Growth::SplatsOnly => computing(&s) > computing(&g) || s.len() > 2 * g.len(),
    };
    prop_assert!(!grew, "simplify grew the graph from {} to {} nodes\n{}\nfrom\n{}", g.len(), s.len(), print_all(&s), print_all(&g));
    for sample in 0..r.samples.len() {
        let args = args(&g, r, sample);
        let inputs = Inputs { args: &args, params: &[], data: &[] };
        let want = run(&g, &inputs, "the generated graph")?;
        let got = run(&s, &inputs, "the simplified graph").map_err(|e| TestCaseError::fail(format!("{e}\nsimplified from\n{}", print_all(&g))))?;
        let (kw, kg): (Vec<_>, Vec<_>) = (want.iter().map(|t| key(t, how)).collect(), got.iter().map(|t| key(t, how)).collect());
        prop_assert!(
            kw == kg,
            "different results for inputs {}: {} before, {} after\n{}\nsimplified to\n{}",
            show(&args), show(&want), show(&got), print_all(&g), print_all(&s)
        );
    }
    Ok(())
}

fn config() -> Config {
    // `Config::default()` reads `PROPTEST_CASES` and `PROPTEST_RNG_SEED`; without them the run
    // is 512 cases from a fixed seed, the same on every machine.
    let mut config = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x5eed_5130);
    }
    // Counterexamples are reported by the failure message (and kept as tests in
    // tests/simplify.rs), not written to a regressions file.
    config
}

proptest! {
    #![proptest_config(config())]

    /// Same values, signed zeros and infinities included; any NaN equals any NaN.
    #[test]
    fn simplify_keeps_ieee_results(r in recipe()) {
        check(&r, Compare::NanIsNan, Growth::SplatsOnly)?;
    }

}

/// The generator makes graphs of the sizes and ops the property is about.
#[test]
fn recipes_make_varied_graphs() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut sizes, mut ops) = (Vec::new(), std::collections::BTreeSet::new());
    for _ in 0..200 {
        let r = recipe().new_tree(&mut runner).expect("a recipe").current();
        let g = build(&r);
        sizes.push(g.len());
        ops.extend(g.ids().map(|id| g.op(id).name()));
    }
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    assert!(mean >= 8.0, "graphs are small: mean {mean} nodes");
    assert!(sizes.iter().all(|&n| n <= MAX_NODES));
    for op in ["const", "add", "sub", "mul", "div", "neg", "powi", "select", "broadcast", "reshape", "transpose", "slice", "reduce_sum", "reduce_max", "concat", "and", "not", "convert", "lt"] {
        assert!(ops.contains(op), "no `{op}` in 200 graphs: {ops:?}");
    }
}
