//! The reverse derivative over Z2 (`passes::rgrad`): ORACLES.md R1–R3 on hand-built graphs,
//! then properties on random circuits — for read-once formulas R is the Boolean difference
//! `f(x ⊕ eᵢ) ⊕ f(x)`; for any circuit R is linear in `dy`; R obeys the chain rule.
//! Every graph the pass builds is verified, and evaluated before and after simplification.

use gradc_compiler::interp::{run, Inputs};
use gradc_compiler::ir::verify::verify;
use gradc_compiler::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type, UnaryOp};
use gradc_compiler::passes::emit::Emitter;
use gradc_compiler::passes::inline::inline;
use gradc_compiler::passes::rgrad::rgrad;
use gradc_compiler::passes::simplify::simplify;
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

fn bools(shape: &[usize], v: &[bool]) -> Tensor {
    Tensor::new(shape.to_vec(), Buffer::Bool(v.to_vec())).unwrap()
}

fn bits(t: &Tensor) -> Vec<bool> {
    match t.data() {
        Buffer::Bool(v) => v.clone(),
        other => panic!("not bool: {:?}", other.dtype()),
    }
}

fn input(e: &mut Emitter, k: u32, shape: &[usize]) -> NodeId {
    e.add(Op::Input { source: Source::Arg(k), ty: Type::new(DType::Bool, shape.to_vec()) }, &[])
}

fn eval(g: &Graph, args: &[Tensor]) -> Vec<Tensor> {
    verify(g).unwrap_or_else(|e| panic!("{e:?}"));
    run(g, &Inputs { args, params: &[], data: &[] }).unwrap_or_else(|(_, e)| panic!("{e:?}"))
}

/// `R[g](args, dys)` with respect to every input (all `Arg`s, numbered densely), evaluated on
/// the pass's graph and on its simplification, which must agree.
fn r(g: &Graph, args: &[Tensor], dys: &[Tensor]) -> Vec<Vec<bool>> {
    let n = args.len() as u32;
    let wrt: Vec<(Source, Type)> =
        args.iter().enumerate().map(|(k, a)| (Source::Arg(k as u32), Type::new(DType::Bool, a.shape().to_vec()))).collect();
    let cts: Vec<Source> = (0..g.outputs.len() as u32).map(|j| Source::Arg(n + j)).collect();
    let rg = rgrad(g, &wrt, &cts);
    let all: Vec<Tensor> = args.iter().chain(dys).cloned().collect();
    let raw = eval(&rg, &all);
    let simple = eval(&simplify(&rg), &all);
    let m = g.outputs.len();
    let a: Vec<Vec<bool>> = raw[m..].iter().map(bits).collect();
    let b: Vec<Vec<bool>> = simple[m..].iter().map(bits).collect();
    assert_eq!(a, b, "simplification changed R");
    // The primal outputs come through unchanged.
    assert_eq!(raw[..m].iter().map(bits).collect::<Vec<_>>(), eval(g, args).iter().map(bits).collect::<Vec<_>>());
    a
}

fn scalar(b: bool) -> Tensor {
    bools(&[], &[b])
}

/// A graph of two scalar inputs and one gate.
fn gate(op: Op) -> Graph {
    let mut e = Emitter::new("gate");
    let x = input(&mut e, 0, &[]);
    let y = input(&mut e, 1, &[]);
    let z = e.add(op, &[x, y]);
    e.graph.outputs = vec![z];
    e.graph
}

fn r2(g: &Graph, x: bool, y: bool, dz: bool) -> (bool, bool) {
    let out = r(g, &[scalar(x), scalar(y)], &[scalar(dz)]);
    (out[0][0], out[1][0])
}

#[test]
fn r1_gates() {
    let and = gate(Op::Binary(BinaryOp::And));
    assert_eq!(r2(&and, true, false, true), (false, true));
    assert_eq!(r2(&and, false, false, true), (false, false));
    assert_eq!(r2(&and, true, true, true), (true, true));
    let or = gate(Op::Binary(BinaryOp::Or));
    assert_eq!(r2(&or, false, false, true), (true, true));
    assert_eq!(r2(&or, true, false, true), (true, false));
    let xor = gate(Op::Binary(BinaryOp::Xor));
    for (x, y) in [(false, false), (false, true), (true, false), (true, true)] {
        assert_eq!(r2(&xor, x, y, true), (true, true));
        // With dy = 0 every reverse derivative is 0.
        for g in [&and, &or, &xor] {
            assert_eq!(r2(g, x, y, false), (false, false));
        }
    }
}

#[test]
fn r1_copy_and_half_adder() {
    // copy: x ↦ (x, x); R(x, (1, 1)) = 1 ⊕ 1 = 0, R(x, (1, 0)) = 1.
    let mut e = Emitter::new("copy");
    let x = input(&mut e, 0, &[]);
    e.graph.outputs = vec![x, x];
    let copy = e.graph;
    for x in [false, true] {
        assert_eq!(r(&copy, &[scalar(x)], &[scalar(true), scalar(true)]), [[false]]);
        assert_eq!(r(&copy, &[scalar(x)], &[scalar(true), scalar(false)]), [[true]]);
    }
    // Half adder (s, c) = (x ⊕ y, x·y): R((x, y), (ds, dc)) = (ds ⊕ y·dc, ds ⊕ x·dc).
    let mut e = Emitter::new("half_adder");
    let x = input(&mut e, 0, &[]);
    let y = input(&mut e, 1, &[]);
    let s = e.binary(BinaryOp::Xor, x, y);
    let c = e.binary(BinaryOp::And, x, y);
    e.graph.outputs = vec![s, c];
    let ha = e.graph;
    for v in 0..16u32 {
        let [x, y, ds, dc] = [0, 1, 2, 3].map(|i| v >> i & 1 == 1);
        let out = r(&ha, &[scalar(x), scalar(y)], &[scalar(ds), scalar(dc)]);
        assert_eq!((out[0][0], out[1][0]), (ds ^ (y & dc), ds ^ (x & dc)), "x={x} y={y} ds={ds} dc={dc}");
    }
    let out = r(&ha, &[scalar(true), scalar(false)], &[scalar(false), scalar(true)]);
    assert_eq!((out[0][0], out[1][0]), (false, true));
}

#[test]
fn r2_composition_is_formal() {
    // copy ; AND computes x·x = x, but R is x·dz ⊕ x·dz = 0, also after simplification.
    let mut e = Emitter::new("square");
    let x = input(&mut e, 0, &[]);
    let z = e.binary(BinaryOp::And, x, x);
    e.graph.outputs = vec![z];
    let g = e.graph;
    assert_eq!(r(&g, &[scalar(true)], &[scalar(true)]), [[false]]);
    assert_eq!(r(&simplify(&g), &[scalar(true)], &[scalar(true)]), [[false]]);
    // Flipping x does flip the output: the Boolean difference is 1.
    assert_ne!(bits(&eval(&g, &[scalar(false)])[0]), bits(&eval(&g, &[scalar(true)])[0]));
    // x | x likewise: (1 ⊕ x)dz twice.
    let mut e = Emitter::new("or_self");
    let x = input(&mut e, 0, &[]);
    let z = e.binary(BinaryOp::Or, x, x);
    e.graph.outputs = vec![z];
    assert_eq!(r(&simplify(&e.graph), &[scalar(false)], &[scalar(true)]), [[false]]);
}

#[test]
fn r3_one_rda_step_may_overshoot() {
    // f(t1, t2, x) = t1 ⊕ (t2 · x); θ = (0, 0), x = 1, y = 1.
    let mut e = Emitter::new("f");
    let t1 = input(&mut e, 0, &[]);
    let t2 = input(&mut e, 1, &[]);
    let x = input(&mut e, 2, &[]);
    let p = e.binary(BinaryOp::And, t2, x);
    let f = e.binary(BinaryOp::Xor, t1, p);
    e.graph.outputs = vec![f];
    let g = e.graph;
    let (mut t1, mut t2, x, y) = (false, false, true, true);
    let pred = eval(&g, &[scalar(t1), scalar(t2), scalar(x)])[0].clone();
    let dy = y ^ bits(&pred)[0];
    assert!(dy);
    let d = r(&g, &[scalar(t1), scalar(t2), scalar(x)], &[scalar(dy)]);
    assert_eq!((d[0][0], d[1][0]), (true, true));
    t1 ^= d[0][0];
    t2 ^= d[1][0];
    assert_eq!(bits(&eval(&g, &[scalar(t1), scalar(t2), scalar(x)])[0]), [false], "still wrong after the step");
}

#[test]
fn select_reductions_and_shape_ops() {
    // The multiplexer select(c, a, b) = c·a ⊕ (1 ⊕ c)·b.
    let mut e = Emitter::new("mux");
    let c = input(&mut e, 0, &[]);
    let a = input(&mut e, 1, &[]);
    let b = input(&mut e, 2, &[]);
    let z = e.add(Op::Select, &[c, a, b]);
    e.graph.outputs = vec![z];
    let g = e.graph;
    for v in 0..16u32 {
        let [c, a, b, dz] = [0, 1, 2, 3].map(|i| v >> i & 1 == 1);
        let out = r(&g, &[scalar(c), scalar(a), scalar(b)], &[scalar(dz)]);
        assert_eq!(out, [[(a ^ b) & dz], [c & dz], [!c & dz]]);
    }
    // A broadcast's transpose is the parity of the copies' cotangents.
    let mut e = Emitter::new("spread");
    let x = input(&mut e, 0, &[]);
    let y = e.broadcast(x, &[3]);
    e.graph.outputs = vec![y];
    let g = e.graph;
    for v in 0..8u32 {
        let dy: Vec<bool> = (0..3).map(|i| v >> i & 1 == 1).collect();
        let parity = dy.iter().filter(|&&b| b).count() % 2 == 1;
        assert_eq!(r(&g, &[scalar(true)], &[bools(&[3], &dy)]), [[parity]]);
    }
    // A gather at a run-time index: the cotangent goes back to that entry only.
    let mut e = Emitter::new("pick");
    let x = input(&mut e, 0, &[4]);
    let i = e.scalar(DType::I64, 2.0);
    let y = e.add(Op::Gather { axis: 0 }, &[x, i]);
    e.graph.outputs = vec![y];
    assert_eq!(r(&e.graph, &[bools(&[4], &[true; 4])], &[scalar(true)]), [[false, false, true, false]]);
}

// ---------------------------------------------------------------- random circuits

/// Builds a random read-once formula over the entries of one input `x: bool[n]`: each entry
/// is read exactly once (by a slice and a reshape, or by a gather), and gates combine disjoint
/// sub-formulas — binary gates, the multiplexer, NOT, and the n-ary reductions over a concat.
struct ReadOnce<'r> {
    rng: &'r mut Rng,
}

impl ReadOnce<'_> {
    fn leaf(&mut self, e: &mut Emitter, x: NodeId, i: usize) -> NodeId {
        let v = if self.rng.below(2) == 0 {
            let s = e.add(Op::Slice { starts: vec![i], ends: vec![i + 1] }, &[x]);
            e.reshape(s, &[])
        } else {
            let k = e.scalar(DType::I64, i as f64);
            e.add(Op::Gather { axis: 0 }, &[x, k])
        };
        self.maybe_not(e, v)
    }

    fn maybe_not(&mut self, e: &mut Emitter, v: NodeId) -> NodeId {
        if self.rng.below(4) == 0 { e.unary(UnaryOp::Not, v) } else { v }
    }

    /// A formula over the entries `vars` (each used once).
    fn formula(&mut self, e: &mut Emitter, x: NodeId, vars: &[usize]) -> NodeId {
        if vars.len() == 1 {
            return self.leaf(e, x, vars[0]);
        }
        let choice = self.rng.below(if vars.len() >= 3 { 4 } else { 3 });
        let v = match choice {
            // n-ary reduction over 2..=len parts.
            0 => {
                let parts = 2 + self.rng.below((vars.len() - 1) as u64) as usize;
                let chunks = split(vars, parts);
                let pieces: Vec<NodeId> = chunks
                    .iter()
                    .map(|c| {
                        let f = self.formula(e, x, c);
                        e.reshape(f, &[1])
                    })
                    .collect();
                let joined = e.add(Op::Concat { axis: 0 }, &pieces);
                let op = [ReduceOp::All, ReduceOp::Any, ReduceOp::Parity][self.rng.below(3) as usize];
                e.add(Op::Reduce { op, axes: vec![0] }, &[joined])
            }
            // The multiplexer on three disjoint parts.
            3 => {
                let chunks = split(vars, 3);
                let c = self.formula(e, x, &chunks[0]);
                let a = self.formula(e, x, &chunks[1]);
                let b = self.formula(e, x, &chunks[2]);
                e.add(Op::Select, &[c, a, b])
            }
            _ => {
                let chunks = split(vars, 2);
                let a = self.formula(e, x, &chunks[0]);
                let b = self.formula(e, x, &chunks[1]);
                let ops = [BinaryOp::And, BinaryOp::Or, BinaryOp::Xor, BinaryOp::Eq, BinaryOp::Ne];
                e.binary(ops[self.rng.below(5) as usize], a, b)
            }
        };
        self.maybe_not(e, v)
    }
}

/// `vars` cut into `parts` non-empty runs.
fn split(vars: &[usize], parts: usize) -> Vec<Vec<usize>> {
    let size = vars.len() / parts;
    let mut out: Vec<Vec<usize>> = vars.chunks(size.max(1)).map(<[usize]>::to_vec).collect();
    while out.len() > parts {
        let last = out.pop().unwrap();
        out.last_mut().unwrap().extend(last);
    }
    out
}

fn all_inputs(n: usize) -> impl Iterator<Item = Vec<bool>> {
    (0..1u32 << n).map(move |v| (0..n).map(|i| v >> i & 1 == 1).collect())
}

#[test]
fn read_once_formulas_have_the_boolean_difference_as_reverse_derivative() {
    let mut rng = Rng::seed_from_u64(7);
    for case in 0..60 {
        let n = 1 + rng.below(6) as usize;
        let mut vars: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut vars);
        let mut e = Emitter::new("read_once");
        let x = input(&mut e, 0, &[n]);
        let f = ReadOnce { rng: &mut rng }.formula(&mut e, x, &vars);
        e.graph.outputs = vec![f];
        let g = e.graph;
        for xs in all_inputs(n) {
            let f0 = bits(&eval(&g, &[bools(&[n], &xs)])[0])[0];
            let d = r(&g, &[bools(&[n], &xs)], &[scalar(true)]);
            for i in 0..n {
                let mut flipped = xs.clone();
                flipped[i] ^= true;
                let f1 = bits(&eval(&g, &[bools(&[n], &flipped)])[0])[0];
                assert_eq!(d[0][i], f0 ^ f1, "case {case}, x = {xs:?}, input {i}");
            }
        }
    }
}

/// A random circuit `bool[n] -> bool[m]` in which values are reused (fan-out), with every
/// gate kind, broadcasts, and reductions over reused values.
fn random_circuit(rng: &mut Rng, n: usize, m: usize, e: &mut Emitter, x: NodeId) -> NodeId {
    let mut vals: Vec<NodeId> = (0..n)
        .map(|i| {
            let s = e.add(Op::Slice { starts: vec![i], ends: vec![i + 1] }, &[x]);
            e.reshape(s, &[])
        })
        .collect();
    let t = e.scalar(DType::Bool, 1.0);
    vals.push(t);
    let gates = 3 + rng.below(10) as usize;
    for _ in 0..gates {
        let mut pick = || vals[rng.below(vals.len() as u64) as usize];
        let (a, b, c) = (pick(), pick(), pick());
        let v = match rng.below(9) {
            0 => e.binary(BinaryOp::And, a, b),
            1 => e.binary(BinaryOp::Or, a, b),
            2 => e.binary(BinaryOp::Xor, a, b),
            3 => e.binary(BinaryOp::Eq, a, b),
            4 => e.unary(UnaryOp::Not, a),
            5 => e.add(Op::Select, &[a, b, c]),
            6 => {
                // Broadcast a value to 3 copies, gate them with others, reduce.
                let s = e.broadcast(a, &[3]);
                let parts: Vec<NodeId> = [b, c, a].iter().map(|&v| e.reshape(v, &[1])).collect();
                let o = e.add(Op::Concat { axis: 0 }, &parts);
                let g = e.binary(BinaryOp::And, s, o);
                let op = [ReduceOp::All, ReduceOp::Any, ReduceOp::Parity][rng.below(3) as usize];
                e.add(Op::Reduce { op, axes: vec![0] }, &[g])
            }
            7 => {
                let parts: Vec<NodeId> = [a, b].iter().map(|&v| e.reshape(v, &[1, 1])).collect();
                let o = e.add(Op::Concat { axis: 1 }, &parts);
                let t = e.add(Op::Transpose { perm: vec![1, 0] }, &[o]);
                let k = e.scalar(DType::I64, rng.below(2) as f64);
                let row = e.add(Op::Gather { axis: 0 }, &[t, k]);
                e.reshape(row, &[])
            }
            // bool → bool conversion: the identity.
            _ => e.add(Op::Convert { to: DType::Bool }, &[a]),
        };
        vals.push(v);
    }
    let outs: Vec<NodeId> = (0..m)
        .map(|_| {
            let v = vals[n + rng.below((vals.len() - n) as u64) as usize];
            e.reshape(v, &[1])
        })
        .collect();
    e.add(Op::Concat { axis: 0 }, &outs)
}

fn random_bits(rng: &mut Rng, n: usize) -> Vec<bool> {
    (0..n).map(|_| rng.below(2) == 1).collect()
}

fn xor(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

#[test]
fn reverse_derivatives_are_linear_in_dy() {
    let mut rng = Rng::seed_from_u64(11);
    for case in 0..80 {
        let (n, m) = (1 + rng.below(5) as usize, 1 + rng.below(4) as usize);
        let mut e = Emitter::new("circuit");
        let x = input(&mut e, 0, &[n]);
        let out = random_circuit(&mut rng, n, m, &mut e, x);
        e.graph.outputs = vec![out];
        let g = e.graph;
        let xs = bools(&[n], &random_bits(&mut rng, n));
        let (d1, d2) = (random_bits(&mut rng, m), random_bits(&mut rng, m));
        let r1 = r(&g, std::slice::from_ref(&xs), &[bools(&[m], &d1)]);
        let r2 = r(&g, std::slice::from_ref(&xs), &[bools(&[m], &d2)]);
        let r12 = r(&g, std::slice::from_ref(&xs), &[bools(&[m], &xor(&d1, &d2))]);
        assert_eq!(r12[0], xor(&r1[0], &r2[0]), "case {case}");
        assert_eq!(r(&g, &[xs], &[bools(&[m], &vec![false; m])])[0], vec![false; n], "case {case}: R(x, 0) = 0");
    }
}

#[test]
fn the_chain_rule_holds_for_composed_circuits() {
    let mut rng = Rng::seed_from_u64(5);
    for case in 0..60 {
        let (n, m, k) = (1 + rng.below(4) as usize, 1 + rng.below(4) as usize, 1 + rng.below(3) as usize);
        let mut e = Emitter::new("f");
        let x = input(&mut e, 0, &[n]);
        let fo = random_circuit(&mut rng, n, m, &mut e, x);
        e.graph.outputs = vec![fo];
        let f = e.graph;
        let mut e = Emitter::new("g");
        let y = input(&mut e, 0, &[m]);
        let go = random_circuit(&mut rng, m, k, &mut e, y);
        e.graph.outputs = vec![go];
        let g = e.graph;
        // h = g ∘ f, one graph.
        let mut e = Emitter::new("h");
        let x = input(&mut e, 0, &[n]);
        let fx = inline(&mut e, &f, &mut |_, _| x);
        let gx = inline(&mut e, &g, &mut |_, _| fx[0]);
        e.graph.outputs = gx;
        let h = e.graph;
        let xs = bools(&[n], &random_bits(&mut rng, n));
        let dz = bools(&[k], &random_bits(&mut rng, k));
        let fx = eval(&f, std::slice::from_ref(&xs))[0].clone();
        let inner = r(&g, &[fx], std::slice::from_ref(&dz));
        let chained = r(&f, std::slice::from_ref(&xs), &[bools(&[m], &inner[0])]);
        assert_eq!(r(&h, &[xs], &[dz]), chained, "case {case}");
    }
}

#[test]
fn constants_and_float_comparisons_take_no_cotangent() {
    // z = x & (c > 0.5) with c a float input: the comparison is a constant to R.
    let mut e = Emitter::new("gated");
    let x = input(&mut e, 0, &[]);
    let c = e.add(Op::Input { source: Source::Arg(1), ty: Type::scalar(DType::F64) }, &[]);
    let h = e.scalar(DType::F64, 0.5);
    let on = e.binary(BinaryOp::Gt, c, h);
    let z = e.binary(BinaryOp::And, x, on);
    e.graph.outputs = vec![z];
    let g = e.graph;
    let wrt = [(Source::Arg(0), Type::scalar(DType::Bool))];
    let rg = rgrad(&g, &wrt, &[Source::Arg(2)]);
    verify(&rg).unwrap();
    for (cv, expect) in [(1.0, true), (0.0, false)] {
        let c = Tensor::new(vec![], Buffer::F64(vec![cv])).unwrap();
        let out = eval(&rg, &[scalar(true), c, scalar(true)]);
        assert_eq!(bits(&out[1]), [expect]);
    }
    // An input no output depends on gets a false cotangent of its shape.
    let unused = [(Source::Arg(0), Type::scalar(DType::Bool)), (Source::Arg(9), Type::new(DType::Bool, vec![2]))];
    let rg = rgrad(&g, &unused, &[Source::Arg(2)]);
    let c = Tensor::new(vec![], Buffer::F64(vec![1.0])).unwrap();
    let out = eval(&rg, &[scalar(true), c, scalar(true)]);
    assert_eq!(bits(&out[2]), [false, false]);
}
