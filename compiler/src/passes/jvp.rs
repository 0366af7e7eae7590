//! Forward mode: a graph to the graph of its Jacobian-vector product.
//!
//! The result computes the original outputs and, beside them, their tangents along tangent
//! inputs given for some of the original inputs. Every op has a JVP rule here ([`rule`]);
//! each emits only ops of the op table, so the result can be differentiated again. A tangent
//! that is identically zero is *symbolic* (`None`): no work is emitted for it, and a rule
//! whose tangent operands are all zero gives zero.
//!
//! Every tangent a rule emits is linear in the tangent operands — the property that
//! `transpose` relies on to run the linear part backwards (DESIGN.md §3).
//!
//! Conventions at non-smooth points (LANGUAGE.md §7): `relu'(0) = 0`, `abs'(0) = 0`,
//! elementwise `max`/`min` at a tie take the first operand's tangent, a `max`/`min` reduction
//! at a tie averages the tied elements' tangents (as JAX does), `select` passes the chosen
//! branch's tangent, and comparisons, `floor`, `ceil`, `sign`, `argmax`, integers and
//! booleans have zero tangents.

use gradc_runtime::tensor::DType;

use super::emit::Emitter;
use super::inline::inline;
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, UnaryOp};

/// The JVP graph of `g`. `seeds` pairs inputs of `g` (by source) with the sources of their
/// tangent inputs in the result. Outputs: `g`'s outputs, then one tangent per output (zeros
/// where it is symbolically zero).
pub fn jvp(g: &Graph, seeds: &[(Source, Source)]) -> Graph {
    let mut e = Emitter::new(format!("jvp({})", g.name));
    e.graph.input_names = g.input_names.clone();
    let live = g.live();
    let mut primal: Vec<Option<NodeId>> = vec![None; g.len()];
    let mut tangent: Vec<Option<NodeId>> = vec![None; g.len()];
    for id in g.ids() {
        if !live[id.index()] {
            continue;
        }
        let node = g.node(id);
        e.set_span(node.span);
        let args: Vec<NodeId> = g.args(id).iter().map(|a| primal[a.index()].expect("operands first")).collect();
        let arg_tangents: Vec<Option<NodeId>> = g.args(id).iter().map(|a| tangent[a.index()]).collect();
        let y = e.add(node.op.clone(), &args);
        primal[id.index()] = Some(y);
        tangent[id.index()] = match &node.op {
            Op::Input { source, ty } => seeds.iter().find(|(s, _)| s == source).filter(|_| ty.dtype.is_float()).map(|(_, t)| {
                e.add(Op::Input { source: *t, ty: ty.clone() }, &[])
            }),
            _ if !node.ty.dtype.is_float() || arg_tangents.iter().all(Option::is_none) => None,
            op => rule(&mut e, op, &args, &arg_tangents, y),
        };
    }
    e.set_span(None);
    let mut outputs: Vec<NodeId> = g.outputs.iter().map(|o| primal[o.index()].expect("outputs are live")).collect();
    for o in &g.outputs {
        let t = match tangent[o.index()] {
            Some(t) => t,
            None => {
                let p = primal[o.index()].expect("outputs are live");
                e.zeros_like(p)
            }
        };
        outputs.push(t);
    }
    e.graph.outputs = outputs;
    e.graph
}

/// The tangent of `y = op(x…)` given the operands' tangents `t` (not all zero).
fn rule(e: &mut Emitter, op: &Op, x: &[NodeId], t: &[Option<NodeId>], y: NodeId) -> Option<NodeId> {
    use BinaryOp as B;
    use UnaryOp as U;
    // Operand `i`'s tangent, zeros where symbolic.
    let dense = |e: &mut Emitter, i: usize| t[i].unwrap_or_else(|| e.zeros_like(x[i]));
    match op {
        Op::Input { .. } | Op::Const(_) | Op::Iota { .. } => None,
        Op::Unary(u) => {
            let t0 = t[0]?;
            let x0 = x[0];
            Some(match u {
                U::Neg => e.neg(t0),
                U::Exp => e.mul(t0, y),
                U::Log => e.div(t0, x0),
                U::Sin => {
                    let c = e.unary(U::Cos, x0);
                    e.mul(t0, c)
                }
                U::Cos => {
                    let s = e.unary(U::Sin, x0);
                    let ts = e.mul(t0, s);
                    e.neg(ts)
                }
                U::Tan => {
                    // 1 + tan²
                    let y2 = e.add(Op::PowInt(2), &[y]);
                    let one = e.splat_like(y, 1.0);
                    let d = e.add2(one, y2);
                    e.mul(t0, d)
                }
                U::Tanh => {
                    let y2 = e.add(Op::PowInt(2), &[y]);
                    let one = e.splat_like(y, 1.0);
                    let d = e.sub(one, y2);
                    e.mul(t0, d)
                }
                U::Sigmoid => {
                    let one = e.splat_like(y, 1.0);
                    let c = e.sub(one, y);
                    let d = e.mul(y, c);
                    e.mul(t0, d)
                }
                U::Relu => {
                    let zero = e.zeros_like(x0);
                    let pos = e.binary(B::Gt, x0, zero);
                    let tz = e.zeros_like(t0);
                    e.select(pos, t0, tz)
                }
                U::Softplus => {
                    let s = e.unary(U::Sigmoid, x0);
                    e.mul(t0, s)
                }
                U::Gelu => {
                    // Φ(x) + x φ(x), Φ(x) = (1 + erf(x / √2)) / 2, φ(x) = exp(-x²/2) / √(2π)
                    let r = e.scale(x0, std::f64::consts::FRAC_1_SQRT_2);
                    let erf = e.unary(U::Erf, r);
                    let one = e.splat_like(x0, 1.0);
                    let cdf_2 = e.add2(one, erf);
                    let cdf = e.scale(cdf_2, 0.5);
                    let x2 = e.add(Op::PowInt(2), &[x0]);
                    let h = e.scale(x2, -0.5);
                    let ex = e.unary(U::Exp, h);
                    let pdf = e.scale(ex, 1.0 / (2.0 * std::f64::consts::PI).sqrt());
                    let xpdf = e.mul(x0, pdf);
                    let d = e.add2(cdf, xpdf);
                    e.mul(t0, d)
                }
                U::Sqrt => {
                    let two_y = e.scale(y, 2.0);
                    e.div(t0, two_y)
                }
                U::Abs => {
                    let s = e.unary(U::Sign, x0);
                    e.mul(t0, s)
                }
                U::Erf => {
                    let x2 = e.add(Op::PowInt(2), &[x0]);
                    let nx2 = e.neg(x2);
                    let ex = e.unary(U::Exp, nx2);
                    let d = e.scale(ex, std::f64::consts::FRAC_2_SQRT_PI);
                    e.mul(t0, d)
                }
                U::Sign | U::Floor | U::Ceil | U::Not => return None,
            })
        }
        Op::Binary(b) => {
            let (x0, x1) = (x[0], x[1]);
            Some(match b {
                B::Add => match (t[0], t[1]) {
                    (Some(a), Some(b)) => e.add2(a, b),
                    (a, b) => a.or(b)?,
                },
                B::Sub => match (t[0], t[1]) {
                    (Some(a), Some(b)) => e.sub(a, b),
                    (Some(a), None) => a,
                    (None, b) => e.neg(b?),
                },
                B::Mul => {
                    let l = t[0].map(|t0| e.mul(t0, x1));
                    let r = t[1].map(|t1| e.mul(x0, t1));
                    sum(e, l, r)?
                }
                B::Div => {
                    // (t0 - y t1) / x1
                    let yt = t[1].map(|t1| e.mul(y, t1));
                    let num = match (t[0], yt) {
                        (Some(a), Some(b)) => e.sub(a, b),
                        (Some(a), None) => a,
                        (None, b) => e.neg(b?),
                    };
                    e.div(num, x1)
                }
                B::Rem => {
                    // x0 % x1 = x0 - x1 trunc(x0 / x1), and trunc(x0 / x1) = (x0 - y) / x1.
                    let q = t[1].map(|t1| {
                        let d = e.sub(x0, y);
                        let q = e.div(d, x1);
                        e.mul(t1, q)
                    });
                    match (t[0], q) {
                        (Some(a), Some(b)) => e.sub(a, b),
                        (Some(a), None) => a,
                        (None, b) => e.neg(b?),
                    }
                }
                B::Pow => {
                    // p x^(p-1) t0 + log(x) y t1, with log(0) taken as 0 (x^p is flat in p there).
                    let l = t[0].map(|t0| {
                        let one = e.splat_like(x1, 1.0);
                        let pm1 = e.sub(x1, one);
                        let xp = e.binary(B::Pow, x0, pm1);
                        let d = e.mul(x1, xp);
                        e.mul(t0, d)
                    });
                    let r = t[1].map(|t1| {
                        let zero = e.zeros_like(x0);
                        let is_zero = e.binary(B::Eq, x0, zero);
                        let log = e.unary(U::Log, x0);
                        let safe = e.select(is_zero, zero, log);
                        let d = e.mul(safe, y);
                        e.mul(t1, d)
                    });
                    sum(e, l, r)?
                }
                B::Max | B::Min => {
                    let cmp = if *b == B::Max { B::Ge } else { B::Le };
                    let first = e.binary(cmp, x0, x1);
                    let (a, b) = (dense(e, 0), dense(e, 1));
                    e.select(first, a, b)
                }
                _ => return None,
            })
        }
        Op::PowInt(n) => {
            let t0 = t[0]?;
            if *n == 0 {
                return None;
            }
            let p = e.add(Op::PowInt(n - 1), &[x[0]]);
            let d = e.scale(p, *n as f64);
            Some(e.mul(t0, d))
        }
        Op::Select => {
            if t[1].is_none() && t[2].is_none() {
                return None;
            }
            let (a, b) = (dense(e, 1), dense(e, 2));
            Some(e.select(x[0], a, b))
        }
        Op::Convert { to } => {
            let t0 = t[0]?;
            to.is_float().then(|| e.convert(t0, *to))
        }
        Op::Broadcast { .. } | Op::Reshape { .. } | Op::Transpose { .. } | Op::Slice { .. } => Some(e.add(op.clone(), &[t[0]?])),
        Op::Gather { .. } => Some(e.add(op.clone(), &[t[0]?, x[1]])),
        Op::Concat { .. } => {
            let parts: Vec<NodeId> = (0..x.len()).map(|i| dense(e, i)).collect();
            Some(e.add(op.clone(), &parts))
        }
        Op::Reduce { op: r, axes } => {
            let t0 = t[0]?;
            let shape = e.shape(x[0]);
            match r {
                ReduceOp::Sum => Some(e.add(op.clone(), &[t0])),
                ReduceOp::Max | ReduceOp::Min => {
                    // The mean of the tangents of the elements equal to the extremum.
                    let yb = e.unreduce(y, axes, &shape);
                    let hit = e.binary(B::Eq, x[0], yb);
                    let dtype = e.ty(y).dtype;
                    let mask = e.convert(hit, dtype);
                    let count = e.reduce_sum(mask, axes.clone());
                    let picked = e.mul(t0, mask);
                    let total = e.reduce_sum(picked, axes.clone());
                    Some(e.div(total, count))
                }
                ReduceOp::Prod => Some(prod_jvp(e, x[0], t0, y, axes)),
                ReduceOp::All | ReduceOp::Any | ReduceOp::Parity => None,
            }
        }
        Op::ArgMax { .. } => None,
        Op::MatMul => {
            let l = t[0].map(|t0| e.add(Op::MatMul, &[t0, x[1]]));
            let r = t[1].map(|t1| e.add(Op::MatMul, &[x[0], t1]));
            sum(e, l, r)
        }
        Op::Custom { rule, output } => {
            // The user's rule, applied to the primal arguments and their tangents.
            let n = x.len() - 1;
            let tangents: Vec<NodeId> = (0..n).map(|i| dense(e, i)).collect();
            let outs = inline(e, &rule.graph, &mut |_, k| {
                let k = k as usize;
                if k < n { x[k] } else { tangents[k - n] }
            });
            Some(outs[*output])
        }
    }
}

/// `a + b` where either may be symbolically zero.
fn sum(e: &mut Emitter, a: Option<NodeId>, b: Option<NodeId>) -> Option<NodeId> {
    match (a, b) {
        (Some(a), Some(b)) => Some(e.add2(a, b)),
        (a, b) => a.or(b),
    }
}

/// The tangent of a product reduction: Σᵢ tᵢ Πⱼ≠ᵢ xⱼ, exact where elements are zero (the
/// product of the others is `y / xᵢ` only where no element is zero).
fn prod_jvp(e: &mut Emitter, x: NodeId, t: NodeId, y: NodeId, axes: &[usize]) -> NodeId {
    use BinaryOp as B;
    let shape = e.shape(x);
    let dtype: DType = e.ty(x).dtype;
    let zero = e.zeros_like(x);
    let one = e.splat_like(x, 1.0);
    let is_zero = e.binary(B::Eq, x, zero);
    let nonzero = e.select(is_zero, one, x);
    let nonzero_prod = e.add(Op::Reduce { op: ReduceOp::Prod, axes: axes.to_vec() }, &[nonzero]);
    let zf = e.convert(is_zero, dtype);
    let zeros = e.reduce_sum(zf, axes.to_vec());
    let zeros = e.unreduce(zeros, axes, &shape);
    let nonzero_prod = e.unreduce(nonzero_prod, axes, &shape);
    let yb = e.unreduce(y, axes, &shape);
    let one_zero = e.binary(B::Eq, zeros, one);
    let no_zero = e.binary(B::Eq, zeros, zero);
    let at_zero = e.select(one_zero, nonzero_prod, zero);
    let y_over_x = e.div(yb, nonzero);
    let elsewhere = e.select(no_zero, y_over_x, zero);
    let others = e.select(is_zero, at_zero, elsewhere);
    let terms = e.mul(t, others);
    e.reduce_sum(terms, axes.to_vec())
}
