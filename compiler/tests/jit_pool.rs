//! The JIT's thread pool, reused: one kernel whose region and scan are split across four
//! threads, run 1,000 times in a row and then from several threads at once, gives the bits
//! of the same graph on one thread every time, and the process's thread count (Linux:
//! `/proc/self/task`) does not grow after the first call — the workers are started once
//! and reused, not spawned per call. One test in this binary, so no other test's threads
//! are counted.

use gradc_compiler::codegen::{self, Options};
use gradc_compiler::interp::{type_of, Inputs};
use gradc_compiler::ir::{BinaryOp, Graph, Op, Source};
use gradc_runtime::tensor::{Buffer, Tensor};

fn threads_now() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

#[test]
fn split_kernels_reuse_the_pool_and_match_one_thread() {
    let (rows, cols) = (64, 257);
    let x = Tensor::new(vec![rows, cols], Buffer::F64((0..rows * cols).map(|i| ((i * 7919) % 1013) as f64 / 17.0 - 29.0).collect())).unwrap();
    let mut g = Graph::new("pool");
    let a = g.add(Op::Input { source: Source::Arg(0), ty: type_of(&x) }, &[]).unwrap();
    let sq = g.add(Op::Binary(BinaryOp::Mul), &[a, a]).unwrap();
    let y = g.add(Op::Binary(BinaryOp::Sub), &[sq, a]).unwrap();
    let am = g.add(Op::ArgMax { axis: Some(1) }, &[y]).unwrap();
    g.outputs = vec![y, am];
    let one = Options { threads: 1, min_parallel_len: 1 << 30, simd: true, verify: true, exact_math: true };
    let four = Options { threads: 4, min_parallel_len: 2, ..one.clone() };
    let args = [x];
    let inputs = Inputs { args: &args, params: &[], data: &[] };
    let want = codegen::compile_with(&g, &one).unwrap().run(&inputs).unwrap();
    let k = codegen::compile_with(&g, &four).unwrap();
    assert_eq!(k.run(&inputs).unwrap(), want);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    assert_eq!(k.run(&inputs).unwrap(), want);
                }
            });
        }
    });
    let before = threads_now();
    for _ in 0..1000 {
        assert_eq!(k.run(&inputs).unwrap(), want);
    }
    let after = threads_now();
    println!("threads before 1,000 calls: {before:?}, after: {after:?}");
    if let (Some(b), Some(a)) = (before, after) {
        assert!(a <= b, "the pool grew from {b} to {a} threads over 1,000 calls");
    }
}
