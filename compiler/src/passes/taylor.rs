//! Taylor mode: a graph to the graph of the Taylor coefficients of its outputs.
//!
//! Given, for some inputs `x`, a curve `x(t) = x + Σ_{k=1..K} v_k t^k`, the result computes
//! the normalised coefficients `c_0 … c_K` (`c_k = y⁽ᵏ⁾(0) / k!`) of every output `y(t)`.
//! This is the first-order JVP generalised to order K (for K = 1, `c_1` is the JVP), with
//! O(K²) nodes per nonlinear op instead of the exponential growth of nested JVPs.
//! Every op has a rule in [`rule`]; the series arithmetic is in [`series`]. Rules emit only
//! ops of the op table, so the result can be differentiated, simplified and compiled like
//! any graph (`grad` of a Taylor coefficient is the reverse pass over this graph).
//!
//! Symbolic zeros as in `jvp`: a coefficient that is identically zero is `None` and costs
//! nothing; an op whose operands have constant series has a constant series.
//!
//! Non-smooth ops follow the primal's branch, the JVP's conventions (LANGUAGE.md §7) at
//! every order: `relu`, `abs`, `max`/`min` and `select` pass the chosen side's coefficients
//! (`relu'(0) = 0`, `abs'(0) = 0`, first operand at a tie), a `max`/`min` reduction averages
//! the tied elements' coefficients, and `sign`, `floor`, `ceil`, comparisons, `argmax` and
//! integers have constant series. `x^n` (`powi`) is repeated series multiplication, exact at
//! `x = 0` (the third coefficient of `t³` is 1). A `with jvp` function (`custom_jvp`) uses
//! its rule, never its body: `y' = rule(x, x')`, so `c_{k+1} = r_k / (k + 1)` where `r` is
//! the rule's graph expanded at order K − 1 along `x(t)` and `x'(t)`.

mod series;

pub use series::Series;

use series::{c0, constant, is_constant, minus, scaled};

use super::emit::Emitter;
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type, UnaryOp};

/// The Taylor graph of `g` at order `order`. `seeds` pairs float inputs of `g` with the
/// sources of their coefficients `v_1, v_2, …` in the result (at most `order`; missing ones
/// are zero). Outputs: for each output of `g`, its coefficients `c_0 … c_K` in turn.
pub fn taylor(g: &Graph, order: usize, seeds: &[(Source, Vec<Source>)]) -> Graph {
    let mut e = Emitter::new(format!("taylor({})", g.name));
    e.graph.input_names = g.input_names.clone();
    let outs = expand(&mut e, g, order, &mut |e, source, ty| {
        let x = e.add(Op::Input { source, ty: ty.clone() }, &[]);
        let mut s = constant(x, order);
        if let Some((_, vs)) = seeds.iter().find(|(s, _)| *s == source).filter(|_| ty.dtype.is_float()) {
            for (k, v) in vs.iter().enumerate().take(order) {
                s[k + 1] = Some(e.add(Op::Input { source: *v, ty: ty.clone() }, &[]));
            }
        }
        s
    });
    e.set_span(None);
    let mut outputs = Vec::with_capacity(outs.len() * (order + 1));
    for s in &outs {
        for c in s {
            let n = match c {
                Some(n) => *n,
                None => e.zeros_like(c0(s)),
            };
            outputs.push(n);
        }
    }
    e.graph.outputs = outputs;
    e.graph
}

/// Emits into `e` the series of every output of `g`; `input` gives each input's series.
pub fn expand(e: &mut Emitter, g: &Graph, order: usize, input: &mut dyn FnMut(&mut Emitter, Source, &Type) -> Series) -> Vec<Series> {
    let live = g.live();
    let mut series: Vec<Option<Series>> = vec![None; g.len()];
    for id in g.ids() {
        if !live[id.index()] {
            continue;
        }
        let node = g.node(id);
        e.set_span(node.span);
        let s = match &node.op {
            Op::Input { source, ty } => input(e, *source, ty),
            op => {
                let xs: Vec<Series> = g.args(id).iter().map(|a| series[a.index()].clone().expect("operands first")).collect();
                let args: Vec<NodeId> = xs.iter().map(c0).collect();
                let y = e.add(op.clone(), &args);
                if !node.ty.dtype.is_float() || xs.iter().all(is_constant) {
                    constant(y, order)
                } else {
                    rule(e, op, &xs, y, order)
                }
            }
        };
        series[id.index()] = Some(s);
    }
    g.outputs.iter().map(|o| series[o.index()].clone().expect("outputs are live")).collect()
}

/// A series with `c_0 = y` and `c_k = f(e, k)` above it.
fn each(e: &mut Emitter, y: NodeId, order: usize, f: &mut dyn FnMut(&mut Emitter, usize) -> Option<NodeId>) -> Series {
    std::iter::once(Some(y)).chain((1..=order).map(|k| f(e, k))).collect()
}

/// `s` with its constant term replaced by the op's own value `y` (the same value; the
/// simplifier's CSE merges the two where they are the same node).
fn with_c0(mut s: Series, y: NodeId) -> Series {
    s[0] = Some(y);
    s
}

/// The series of `y = op(x…)` given the operands' series (not all constant).
fn rule(e: &mut Emitter, op: &Op, s: &[Series], y: NodeId, order: usize) -> Series {
    use BinaryOp as B;
    use UnaryOp as U;
    let x: Vec<NodeId> = s.iter().map(c0).collect();
    // Coefficient `k` of operand `i`, zeros where symbolic.
    let dense = |e: &mut Emitter, i: usize, k: usize| s[i][k].unwrap_or_else(|| e.zeros_like(x[i]));
    match op {
        Op::Input { .. } | Op::Const(_) | Op::Iota { .. } | Op::ArgMax { .. } => constant(y, order),
        Op::Unary(u) => {
            let u0 = &s[0];
            match u {
                U::Neg => each(e, y, order, &mut |e, k| u0[k].map(|c| e.neg(c))),
                U::Exp => series::exp(e, u0, y),
                U::Log => series::log(e, u0, y),
                U::Sin => with_c0(series::sin_cos(e, u0).0, y),
                U::Cos => with_c0(series::sin_cos(e, u0).1, y),
                U::Tan | U::Tanh => {
                    // tan' = 1 + tan², tanh' = 1 − tanh².
                    let sign = if *u == U::Tan { 1.0 } else { -1.0 };
                    series::ode(e, u0, y, &mut |e, v, m| {
                        let sq = series::square_at(e, v, m)?;
                        let sq = scaled(e, sq, sign);
                        if m == 0 {
                            let one = e.splat_like(y, 1.0);
                            Some(e.add2(one, sq))
                        } else {
                            Some(sq)
                        }
                    })
                }
                U::Sigmoid => series::sigmoid(e, u0, y),
                U::Softplus => {
                    // softplus' = sigmoid.
                    let sig0 = e.unary(U::Sigmoid, x[0]);
                    let sig = series::sigmoid(e, u0, sig0);
                    series::ode(e, u0, y, &mut |_, _, m| sig[m])
                }
                U::Gelu => {
                    // x Φ(x), Φ(x) = (1 + erf(x / √2)) / 2.
                    let z: Series = u0.iter().map(|c| c.map(|n| e.scale(n, std::f64::consts::FRAC_1_SQRT_2))).collect();
                    let erf0 = e.unary(U::Erf, c0(&z));
                    let erf = series::erf(e, &z, erf0);
                    let phi: Series = erf
                        .iter()
                        .enumerate()
                        .map(|(k, c)| {
                            c.map(|n| {
                                if k > 0 {
                                    return e.scale(n, 0.5);
                                }
                                let one = e.splat_like(n, 1.0);
                                let t = e.add2(one, n);
                                e.scale(t, 0.5)
                            })
                        })
                        .collect();
                    with_c0(series::mul(e, u0, &phi), y)
                }
                U::Sqrt => series::sqrt(e, u0, y),
                U::Erf => series::erf(e, u0, y),
                U::Relu => {
                    let zero = e.zeros_like(x[0]);
                    let pos = e.binary(B::Gt, x[0], zero);
                    each(e, y, order, &mut |e, k| {
                        let c = u0[k]?;
                        let z = e.zeros_like(c);
                        Some(e.select(pos, c, z))
                    })
                }
                U::Abs => {
                    let sg = e.unary(U::Sign, x[0]);
                    each(e, y, order, &mut |e, k| Some(e.mul(u0[k]?, sg)))
                }
                U::Sign | U::Floor | U::Ceil | U::Not => constant(y, order),
            }
        }
        Op::Binary(b) => match b {
            B::Add => each(e, y, order, &mut |e, k| match (s[0][k], s[1][k]) {
                (Some(a), Some(b)) => Some(e.add2(a, b)),
                (a, b) => a.or(b),
            }),
            B::Sub => each(e, y, order, &mut |e, k| minus(e, s[0][k], s[1][k])),
            B::Mul => {
                let hi = series::cauchy(e, &s[0], &s[1], &|e, a, b| e.mul(a, b));
                std::iter::once(Some(y)).chain(hi).collect()
            }
            B::Div => series::div(e, &s[0], &s[1], y),
            B::Rem => {
                // x0 − x1 trunc(x0 / x1), the truncation locally constant: (x0 − y) / x1.
                let q = if is_constant(&s[1]) {
                    None
                } else {
                    let d = e.sub(x[0], y);
                    Some(e.div(d, x[1]))
                };
                each(e, y, order, &mut |e, k| {
                    let qw = q.and_then(|q| Some(e.mul(q, s[1][k]?)));
                    minus(e, s[0][k], qw)
                })
            }
            // A constant integral exponent is `powi`'s exact product, also at x = 0 (where
            // the general recurrence divides by x).
            B::Pow if is_constant(&s[1]) => match integral(e, x[1]) {
                Some(n) => powi(e, &s[0], n, y),
                None => series::pow_const(e, &s[0], x[1], y),
            },
            B::Pow => {
                // exp(p log x), with both series.
                let l0 = e.unary(U::Log, x[0]);
                let l = series::log(e, &s[0], l0);
                let p = series::mul(e, &s[1], &l);
                series::exp(e, &p, y)
            }
            B::Max | B::Min => {
                let cmp = if *b == B::Max { B::Ge } else { B::Le };
                let first = e.binary(cmp, x[0], x[1]);
                each(e, y, order, &mut |e, k| {
                    if s[0][k].is_none() && s[1][k].is_none() {
                        return None;
                    }
                    let (a, b) = (dense(e, 0, k), dense(e, 1, k));
                    Some(e.select(first, a, b))
                })
            }
            _ => constant(y, order),
        },
        Op::PowInt(n) => powi(e, &s[0], *n, y),
        Op::Select => each(e, y, order, &mut |e, k| {
            if s[1][k].is_none() && s[2][k].is_none() {
                return None;
            }
            let (a, b) = (dense(e, 1, k), dense(e, 2, k));
            Some(e.select(x[0], a, b))
        }),
        Op::Convert { to } => each(e, y, order, &mut |e, k| Some(e.convert(s[0][k]?, *to))),
        Op::Broadcast { .. } | Op::Reshape { .. } | Op::Transpose { .. } | Op::Slice { .. } => {
            each(e, y, order, &mut |e, k| Some(e.add(op.clone(), &[s[0][k]?])))
        }
        Op::Gather { .. } => each(e, y, order, &mut |e, k| Some(e.add(op.clone(), &[s[0][k]?, x[1]]))),
        Op::Concat { .. } => each(e, y, order, &mut |e, k| {
            if s.iter().all(|si| si[k].is_none()) {
                return None;
            }
            let parts: Vec<NodeId> = (0..s.len()).map(|i| dense(e, i, k)).collect();
            Some(e.add(op.clone(), &parts))
        }),
        Op::Reduce { op: r, axes } => match r {
            ReduceOp::Sum => each(e, y, order, &mut |e, k| Some(e.add(op.clone(), &[s[0][k]?]))),
            ReduceOp::Max | ReduceOp::Min => {
                // The mean of the coefficients of the elements equal to the extremum.
                let shape = e.shape(x[0]);
                let yb = e.unreduce(y, axes, &shape);
                let hit = e.binary(B::Eq, x[0], yb);
                let dtype = e.ty(y).dtype;
                let mask = e.convert(hit, dtype);
                let count = e.reduce_sum(mask, axes.clone());
                each(e, y, order, &mut |e, k| {
                    let picked = e.mul(s[0][k]?, mask);
                    let t = e.reduce_sum(picked, axes.clone());
                    Some(e.div(t, count))
                })
            }
            ReduceOp::Prod => prod(e, &s[0], axes, y),
            ReduceOp::All | ReduceOp::Any | ReduceOp::Parity => constant(y, order),
        },
        Op::MatMul => {
            let hi = series::cauchy(e, &s[0], &s[1], &|e, a, b| e.add(Op::MatMul, &[a, b]));
            std::iter::once(Some(y)).chain(hi).collect()
        }
        Op::Custom { rule, output } => {
            if order == 0 {
                return constant(y, order);
            }
            // y'(t) = rule(x(t), x'(t)), expanded at order K − 1; x'_m = (m + 1) x_{m+1}.
            let n = s.len() - 1;
            let inner = order - 1;
            let primal: Vec<Series> = s[..n].iter().map(|si| si[..=inner].to_vec()).collect();
            let tangent: Vec<Series> = (0..n)
                .map(|i| {
                    let d0 = dense(e, i, 1);
                    let mut d = constant(d0, inner);
                    for m in 1..=inner {
                        d[m] = s[i][m + 1].map(|c| scaled(e, c, (m + 1) as f64));
                    }
                    d
                })
                .collect();
            let r = expand(e, &rule.graph, inner, &mut |e, source, ty| match source {
                Source::Arg(k) if (k as usize) < n => primal[k as usize].clone(),
                Source::Arg(k) if (k as usize) < 2 * n => tangent[k as usize - n].clone(),
                _ => {
                    let x = e.add(Op::Input { source, ty: ty.clone() }, &[]);
                    constant(x, inner)
                }
            });
            let rs = &r[*output];
            each(e, y, order, &mut |e, k| rs[k - 1].map(|c| scaled(e, c, 1.0 / k as f64)))
        }
    }
}

/// The value of a constant (possibly broadcast) node that is the same small integer
/// everywhere.
fn integral(e: &Emitter, n: NodeId) -> Option<i64> {
    let v = match e.graph.op(n) {
        Op::Const(c) => c.splat()?,
        Op::Broadcast { .. } => return integral(e, e.graph.args(n)[0]),
        _ => return None,
    };
    (v.fract() == 0.0 && v.abs() <= 64.0).then_some(v as i64)
}

/// `x^n` by binary exponentiation of series (exact where `x = 0`, unlike `exp(n log x)`);
/// a negative power is the reciprocal series.
fn powi(e: &mut Emitter, u: &Series, n: i64, y: NodeId) -> Series {
    let order = u.len() - 1;
    if n == 0 {
        return constant(y, order);
    }
    let mut m = n.unsigned_abs();
    let mut base = u.clone();
    let mut acc: Option<Series> = None;
    while m > 0 {
        if m & 1 == 1 {
            acc = Some(match acc {
                None => base.clone(),
                Some(a) => series::mul(e, &a, &base),
            });
        }
        m >>= 1;
        if m > 0 {
            base = series::mul(e, &base, &base);
        }
    }
    let p = acc.expect("n ≠ 0 has a set bit");
    if n > 0 {
        return with_c0(p, y);
    }
    let one = e.splat_like(y, 1.0);
    series::div(e, &constant(one, order), &p, y)
}

/// A product reduction: the reduced elements flattened to the last axis, then halved by
/// pairwise series products (padding an odd count with 1): O(K² log n) nodes, exact where
/// elements are zero.
fn prod(e: &mut Emitter, u: &Series, axes: &[usize], y: NodeId) -> Series {
    let order = u.len() - 1;
    let shape = e.shape(c0(u));
    let dtype = e.ty(y).dtype;
    let kept: Vec<usize> = (0..shape.len()).filter(|i| !axes.contains(i)).collect();
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let kept_shape: Vec<usize> = kept.iter().map(|&i| shape[i]).collect();
    let mut n: usize = axes.iter().map(|&a| shape[a]).product();
    if n == 0 {
        return constant(y, order);
    }
    let at = |len: usize| -> Vec<usize> { kept_shape.iter().copied().chain([len]).collect() };
    let identity = perm.iter().enumerate().all(|(i, &p)| i == p);
    let mut cur: Series = u
        .iter()
        .map(|c| {
            c.map(|x| {
                let t = if identity { x } else { e.add(Op::Transpose { perm: perm.clone() }, &[x]) };
                e.reshape(t, &at(n))
            })
        })
        .collect();
    let r = kept_shape.len();
    while n > 1 {
        if n % 2 == 1 {
            let pad_ty = Type::new(dtype, at(1));
            cur = cur
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    c.map(|x| {
                        let p = e.splat(&pad_ty, if k == 0 { 1.0 } else { 0.0 });
                        e.add(Op::Concat { axis: r }, &[x, p])
                    })
                })
                .collect();
            n += 1;
        }
        let h = n / 2;
        let half = |e: &mut Emitter, lo: usize, hi: usize| -> Series {
            cur.iter()
                .map(|c| {
                    c.map(|x| {
                        let mut starts = vec![0; r + 1];
                        starts[r] = lo;
                        e.add(Op::Slice { starts, ends: at(hi) }, &[x])
                    })
                })
                .collect()
        };
        let a = half(e, 0, h);
        let b = half(e, h, n);
        cur = series::mul(e, &a, &b);
        n = h;
    }
    let out: Series = cur.iter().map(|c| c.map(|x| e.reshape(x, &kept_shape))).collect();
    with_c0(out, y)
}
