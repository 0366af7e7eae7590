//! Golden tests of lowering and the simplifier: every fixture in `tests/fixtures/ir/` is
//! checked, every function instance lowered, verified, printed, simplified, verified again and
//! printed; one snapshot per fixture holds the source and both forms of every graph.
//!
//! Each pair of graphs is also run by the interpreter on deterministic inputs (signed zeros,
//! infinities and NaN among them): where the lowered graph succeeds, the simplified one must
//! give the same outputs, bit for bit.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use gradc_compiler::check::check_source;
use gradc_compiler::check::hir::FnId;
use gradc_compiler::interp::{self, Inputs};
use gradc_compiler::ir::print::print;
use gradc_compiler::ir::verify::verify;
use gradc_compiler::ir::{Graph, Op, Source, Type};
use gradc_compiler::lower::lower_fn;
use gradc_compiler::passes::simplify::simplify;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ir")
}

/// Float inputs: ordinary values first, then the special ones.
const FLOATS: [f64; 14] = [
    1.5, -2.25, 0.5, 3.0, -1.0, 0.125, 7.0, 0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e-300, -1e308,
];
/// Integer inputs: mostly valid small indices and divisors, some out of range or zero.
const INTS: [i64; 8] = [1, 2, 0, 3, -1, 4, 7, -5];

/// A deterministic value of type `ty` for input number `k` of sample `sample`. Sample 0 uses
/// only ordinary values; later samples walk through all of them.
fn value(ty: &Type, k: usize, sample: usize) -> Tensor {
    let n = ty.len();
    let pick = |i: usize, len: usize, ordinary: usize| {
        let at = i * 7 + k * 3 + sample * 5;
        if sample == 0 { at % ordinary } else { at % len }
    };
    let data = match ty.dtype {
        DType::F64 => Buffer::F64((0..n).map(|i| FLOATS[pick(i, FLOATS.len(), 7)]).collect()),
        DType::F32 => Buffer::F32((0..n).map(|i| FLOATS[pick(i, FLOATS.len(), 7)] as f32).collect()),
        DType::I64 => Buffer::I64((0..n).map(|i| INTS[pick(i, INTS.len(), 4)]).collect()),
        DType::Bool => Buffer::Bool((0..n).map(|i| !(i + k + sample).is_multiple_of(3)).collect()),
    };
    Tensor::new(ty.shape.clone(), data).expect("the value has its type's length")
}

/// Values for every input of `graph` (dead ones included), indexed as `Inputs` wants.
fn inputs_for(graph: &Graph, sample: usize) -> [Vec<Tensor>; 3] {
    let mut slots: [Vec<Option<Tensor>>; 3] = Default::default();
    for (k, (id, source)) in graph.inputs().enumerate() {
        let Op::Input { ty, .. } = graph.op(id) else { unreachable!() };
        let (kind, i) = match source {
            Source::Arg(i) => (0, i),
            Source::Param(i) => (1, i),
            Source::Data(i) => (2, i),
            Source::Random(_) => unreachable!("function graphs of these programs draw nothing"),
        };
        let slot = &mut slots[kind];
        if slot.len() <= i as usize {
            slot.resize(i as usize + 1, None);
        }
        slot[i as usize] = Some(value(ty, k, sample));
    }
    slots.map(|s| s.into_iter().map(|t| t.unwrap_or_else(|| Tensor::scalar_f64(0.0))).collect())
}

/// Each element's bit pattern (so NaN equals NaN only with the same bits).
fn bits(t: &Tensor) -> Vec<u64> {
    match t.data() {
        Buffer::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        Buffer::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
        Buffer::I64(v) => v.iter().map(|&x| x as u64).collect(),
        Buffer::Bool(v) => v.iter().map(|&x| x as u64).collect(),
    }
}

/// Runs both graphs on a few samples; where `raw` succeeds, `simple` must agree bit for bit.
/// Returns how many samples ran without error.
fn same_results(raw: &Graph, simple: &Graph) -> usize {
    let mut ok = 0;
    for sample in 0..4 {
        let [args, params, data] = inputs_for(raw, sample);
        let inputs = Inputs { args: &args, params: &params, data: &data };
        let Ok(want) = interp::run(raw, &inputs) else { continue };
        let got = interp::run(simple, &inputs)
            .unwrap_or_else(|(n, e)| panic!("{}: the simplified graph fails at %{} ({e}) where the lowered one runs", raw.name, n.index()));
        assert_eq!(want.len(), got.len(), "{}: output count", raw.name);
        for (o, (w, g)) in want.iter().zip(&got).enumerate() {
            assert_eq!((w.dtype(), w.shape()), (g.dtype(), g.shape()), "{}: type of output {o}", raw.name);
            assert_eq!(bits(w), bits(g), "{}: output {o} differs on sample {sample}: {:?} vs {:?}", raw.name, w.to_f64_vec(), g.to_f64_vec());
        }
        ok += 1;
    }
    ok
}

/// The snapshot text of one fixture, after checking every graph's invariants.
fn golden(file: &str) -> String {
    let path = fixture_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let checked = check_source(file, &text, fixture_dir());
    assert!(checked.is_ok(), "{file} does not check:\n{}", checked.render(false));
    let program = &checked.program;
    assert!(!program.fns.is_empty(), "{file} has no function instances");
    let mut out = format!("---- {file} ----\n{text}");
    for i in 0..program.fns.len() {
        let name = &program.fns[i].name;
        let raw = lower_fn(program, FnId(i as u32))
            .unwrap_or_else(|d| panic!("{file}: {name} does not lower: {}", d.render(&checked.sources, false)));
        verify(&raw).unwrap_or_else(|e| panic!("{file}: lowered {name} does not verify: {e}"));
        let simple = simplify(&raw);
        verify(&simple).unwrap_or_else(|e| panic!("{file}: simplified {name} does not verify: {e}"));
        assert!(simple.len() <= raw.live_count(), "{file}: {name} grows from {} live nodes to {}", raw.live_count(), simple.len());
        assert_eq!(simple.live_count(), simple.len(), "{file}: simplified {name} keeps dead nodes");
        assert_eq!(simplify(&simple).len(), simple.len(), "{file}: simplifying {name} twice shrinks it again");
        let ran = same_results(&raw, &simple);
        let _ = writeln!(out, "\n==== {name} ====");
        let _ = writeln!(out, "-- raw -- ({} nodes, {} live)", raw.len(), raw.live_count());
        out.push_str(&print(&raw));
        let _ = writeln!(out, "-- simplified -- ({} nodes; {ran} of 4 samples agree bit for bit)", simple.len());
        out.push_str(&print(&simple));
    }
    out
}

macro_rules! golden_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let file = concat!(stringify!($name), ".gd");
                insta::assert_snapshot!(stringify!($name), golden(file));
            }
        )*

        /// Every fixture has its test above.
        #[test]
        fn every_fixture_is_listed() {
            let listed = [$(concat!(stringify!($name), ".gd")),*];
            let mut files: Vec<String> = std::fs::read_dir(fixture_dir())
                .expect("the fixture directory exists")
                .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".gd"))
                .collect();
            files.sort();
            let mut listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
            listed.sort();
            assert_eq!(files, listed);
        }
    };
}

golden_tests!(
    arith_broadcast,
    constructors,
    dynamic_index,
    generic_instances,
    int_div,
    lambda,
    matmul,
    params,
    reductions,
    shapes,
    stdlib_softmax,
    tensor_select,
    tuples,
    unrolled_loop,
);
