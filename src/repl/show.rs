//! An IR graph printed back as gd source: how `:d` shows a derivative.
//!
//! The graph (one output, already through the IEEE-exact simplifier) becomes a hash-consed
//! term DAG, node by node, with display rewrites applied as the terms are built. Then it is
//! printed with the precedence of LANGUAGE.md §5 and only the parentheses that precedence
//! needs; a subterm used several times is bound with `let` when it is large, else repeated.
//!
//! # Display rewrites
//! The simplifier keeps only rewrites that are exact in IEEE arithmetic (`x * 0` stays,
//! since `x` might be infinite). For display this module also applies rewrites that are
//! exact in real arithmetic, so the printed expression equals the graph's value wherever the
//! latter is finite, up to rounding:
//! - `x * 0 → 0`, `0 / x → 0` (scalar results only: a zero must keep its shape);
//! - `x * 1`, `x / 1`, `x + 0`, `x - 0`, `x ^ 1` → `x`; `x ^ 0 → 1`; `0 - x → -x`; `x + x → 2 * x`;
//! - `-(-x) → x`, `x * -1 → -x`, `(-a) * b → -(a * b)`, `a + (-b) → a - b`, `a - (-b) → a + b`;
//! - constants folded through `+`, `-`, `*` and negation;
//! - the operands of `+` and `*` ordered for reading (exact in IEEE too): constants first in
//!   a product, larger terms first, so `x * cos(x)` reads `cos(x) * x`.
//! - an explicit `broadcast` under an elementwise operator is left to gd's implicit
//!   broadcasting, which made it.
//!
//! A graph with an op that has no gd spelling (`iota`) is not printed: the caller shows
//! the IR instead.

use std::collections::HashMap;

use gradc_compiler::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, UnaryOp};
use gradc_runtime::tensor::{Buffer, DType, Tensor};

/// Subterms at least this large (in nodes) that are used more than once get a `let`.
const LET_SIZE: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Bin {
    Or,
    And,
    Cmp(&'static str),
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    MatMul,
}

impl Bin {
    fn prec(self) -> u8 {
        match self {
            Bin::Or => 1,
            Bin::And => 2,
            Bin::Cmp(_) => 3,
            Bin::Add | Bin::Sub => 4,
            Bin::Mul | Bin::Div | Bin::Rem | Bin::MatMul => 5,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Bin::Or => "|",
            Bin::And => "&",
            Bin::Cmp(s) => s,
            Bin::Add => "+",
            Bin::Sub => "-",
            Bin::Mul => "*",
            Bin::Div => "/",
            Bin::Rem => "%",
            Bin::MatMul => "@",
        }
    }
}

/// A term; children are indices into the table.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum T {
    /// A name (argument, param, data set) or a literal that never needs parentheses.
    Atom(String),
    /// A scalar float constant (its bits as f64), printed readably.
    Num(u64),
    Neg(usize),
    Not(usize),
    Bin(Bin, usize, usize),
    Pow(usize, i64),
    /// `name(args…, extra)`: `extra` holds named arguments or shapes, already text.
    Call(&'static str, Vec<usize>, String),
    /// `x[…]` with `None` where the index term goes (a gather), or `x.T`.
    Postfix(usize, Vec<Option<String>>, Option<usize>),
    Transposed(usize),
    Concat(Vec<usize>, usize),
    If(usize, usize, usize),
}

struct Entry {
    term: T,
    shape: Vec<usize>,
    size: usize,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    index: HashMap<(T, Vec<usize>), usize>,
}

impl Table {
    fn children(t: &T) -> Vec<usize> {
        match t {
            T::Atom(_) | T::Num(_) => vec![],
            T::Neg(a) | T::Not(a) | T::Pow(a, _) | T::Transposed(a) => vec![*a],
            T::Bin(_, a, b) => vec![*a, *b],
            T::Call(_, args, _) | T::Concat(args, _) => args.clone(),
            T::Postfix(a, _, i) => std::iter::once(*a).chain(*i).collect(),
            T::If(c, a, b) => vec![*c, *a, *b],
        }
    }

    /// The id of `t` (shared when it exists already).
    fn intern(&mut self, t: T, shape: Vec<usize>) -> usize {
        if let Some(&id) = self.index.get(&(t.clone(), shape.clone())) {
            return id;
        }
        let size = 1 + Self::children(&t).iter().map(|&c| self.entries[c].size).sum::<usize>();
        self.entries.push(Entry { term: t.clone(), shape: shape.clone(), size });
        self.index.insert((t, shape), self.entries.len() - 1);
        self.entries.len() - 1
    }

    fn num(&self, id: usize) -> Option<f64> {
        match self.entries[id].term {
            T::Num(b) => Some(f64::from_bits(b)),
            _ => None,
        }
    }

    fn lit(&mut self, v: f64, shape: &[usize]) -> Option<usize> {
        // A constant replaces a term only where it has the term's (scalar) shape.
        shape.is_empty().then(|| self.intern(T::Num(v.to_bits()), vec![]))
    }

    fn neg(&mut self, a: usize, shape: Vec<usize>) -> usize {
        match self.entries[a].term {
            T::Neg(x) => x,
            T::Num(b) => self.intern(T::Num((-f64::from_bits(b)).to_bits()), shape),
            _ => self.intern(T::Neg(a), shape),
        }
    }

    /// An infix operator with the display rewrites.
    fn bin(&mut self, op: Bin, a: usize, b: usize, shape: Vec<usize>) -> usize {
        let (na, nb) = (self.num(a), self.num(b));
        let same = |t: &Table, x: usize| t.entries[x].shape == shape;
        match op {
            Bin::Add => {
                if let (Some(x), Some(y)) = (na, nb) {
                    if let Some(l) = self.lit(x + y, &shape) {
                        return l;
                    }
                }
                if nb == Some(0.0) && same(self, a) {
                    return a;
                }
                if na == Some(0.0) && same(self, b) {
                    return b;
                }
                if let T::Neg(y) = self.entries[b].term {
                    return self.bin(Bin::Sub, a, y, shape);
                }
                if let T::Neg(x) = self.entries[a].term {
                    return self.bin(Bin::Sub, b, x, shape);
                }
                if let Some(y) = nb.filter(|y| *y < 0.0) {
                    let m = self.intern(T::Num((-y).to_bits()), vec![]);
                    return self.bin(Bin::Sub, a, m, shape);
                }
                if a == b && same(self, a) {
                    let two = self.intern(T::Num(2f64.to_bits()), vec![]);
                    return self.bin(Bin::Mul, two, a, shape);
                }
                let (a, b) = self.order(a, b, false);
                self.intern(T::Bin(op, a, b), shape)
            }
            Bin::Sub => {
                if let (Some(x), Some(y)) = (na, nb) {
                    if let Some(l) = self.lit(x - y, &shape) {
                        return l;
                    }
                }
                if nb == Some(0.0) && same(self, a) {
                    return a;
                }
                if na == Some(0.0) && same(self, b) {
                    return self.neg(b, shape);
                }
                if let T::Neg(y) = self.entries[b].term {
                    return self.bin(Bin::Add, a, y, shape);
                }
                self.intern(T::Bin(op, a, b), shape)
            }
            Bin::Mul => {
                if let (Some(x), Some(y)) = (na, nb) {
                    if let Some(l) = self.lit(x * y, &shape) {
                        return l;
                    }
                }
                if na == Some(0.0) || nb == Some(0.0) {
                    if let Some(l) = self.lit(0.0, &shape) {
                        return l;
                    }
                }
                if nb == Some(1.0) && same(self, a) {
                    return a;
                }
                if na == Some(1.0) && same(self, b) {
                    return b;
                }
                if nb == Some(-1.0) && same(self, a) {
                    return self.neg(a, shape);
                }
                if na == Some(-1.0) && same(self, b) {
                    return self.neg(b, shape);
                }
                if let T::Neg(x) = self.entries[a].term {
                    let m = self.bin(Bin::Mul, x, b, shape.clone());
                    return self.neg(m, shape);
                }
                if let T::Neg(y) = self.entries[b].term {
                    let m = self.bin(Bin::Mul, a, y, shape.clone());
                    return self.neg(m, shape);
                }
                if let Some(y) = nb.filter(|y| *y < 0.0) {
                    let m = self.intern(T::Num((-y).to_bits()), vec![]);
                    let p = self.bin(Bin::Mul, a, m, shape.clone());
                    return self.neg(p, shape);
                }
                if let Some(x) = na.filter(|x| *x < 0.0) {
                    let m = self.intern(T::Num((-x).to_bits()), vec![]);
                    let p = self.bin(Bin::Mul, m, b, shape.clone());
                    return self.neg(p, shape);
                }
                let (a, b) = self.order(a, b, true);
                self.intern(T::Bin(op, a, b), shape)
            }
            Bin::Div => {
                if nb == Some(1.0) && same(self, a) {
                    return a;
                }
                if na == Some(0.0) {
                    if let Some(l) = self.lit(0.0, &shape) {
                        return l;
                    }
                }
                self.intern(T::Bin(op, a, b), shape)
            }
            _ => self.intern(T::Bin(op, a, b), shape),
        }
    }

    /// The operands of a commutative operator in reading order: constants first in a
    /// product (last in a sum), then the larger term first.
    fn order(&self, a: usize, b: usize, product: bool) -> (usize, usize) {
        let key = |x: usize| {
            let is_num = self.num(x).is_some();
            (if product { !is_num } else { is_num }, std::cmp::Reverse(self.entries[x].size))
        };
        if key(b) < key(a) {
            (b, a)
        } else {
            (a, b)
        }
    }
}

/// The graph's single output as gd source. `names` are the argument names (`arg0, …`);
/// params and data sets go by their own. `Err` names an op with no gd spelling.
pub fn to_gd(graph: &Graph, names: &[String]) -> Result<String, String> {
    let [out] = graph.outputs[..] else { return Err("a result with several parts".into()) };
    let mut table = Table::default();
    let mut term_of: HashMap<NodeId, usize> = HashMap::new();
    let live = graph.live();
    for n in graph.ids().filter(|n| live[n.index()]) {
        let node = graph.node(n);
        let shape = node.ty.shape.clone();
        let args: Vec<NodeId> = graph.args(n).iter().copied().collect();
        // Under an elementwise operator, an explicit broadcast is gd's implicit one.
        let operand = |k: usize| -> usize {
            let a = args[k];
            match &graph.node(a).op {
                Op::Broadcast { .. } => term_of[&graph.args(a)[0]],
                _ => term_of[&a],
            }
        };
        let t = match &node.op {
            Op::Input { source, .. } => {
                let name = match source {
                    Source::Arg(k) => names.get(*k as usize).cloned(),
                    _ => graph.input_name(*source).map(str::to_string),
                };
                table.intern(T::Atom(name.unwrap_or_else(|| format!("{source:?}"))), shape)
            }
            Op::Const(c) => constant(&mut table, c.tensor()),
            Op::Iota { .. } => return Err("iota".into()),
            Op::Unary(UnaryOp::Neg) => table.neg(term_of[&args[0]], shape),
            Op::Unary(UnaryOp::Not) => table.intern(T::Not(term_of[&args[0]]), shape),
            Op::Unary(u) => table.intern(T::Call(unary_name(*u), vec![term_of[&args[0]]], String::new()), shape),
            Op::Binary(b) => {
                let (x, y) = (operand(0), operand(1));
                match b {
                    BinaryOp::Add => table.bin(Bin::Add, x, y, shape),
                    BinaryOp::Sub => table.bin(Bin::Sub, x, y, shape),
                    BinaryOp::Mul => table.bin(Bin::Mul, x, y, shape),
                    BinaryOp::Div => table.bin(Bin::Div, x, y, shape),
                    BinaryOp::Rem => table.bin(Bin::Rem, x, y, shape),
                    BinaryOp::Pow => table.intern(T::Call("pow", vec![x, y], String::new()), shape),
                    BinaryOp::Max => table.intern(T::Call("max", vec![x, y], String::new()), shape),
                    BinaryOp::Min => table.intern(T::Call("min", vec![x, y], String::new()), shape),
                    BinaryOp::Xor => table.intern(T::Call("xor", vec![x, y], String::new()), shape),
                    BinaryOp::And => table.bin(Bin::And, x, y, shape),
                    BinaryOp::Or => table.bin(Bin::Or, x, y, shape),
                    BinaryOp::Eq => table.bin(Bin::Cmp("=="), x, y, shape),
                    BinaryOp::Ne => table.bin(Bin::Cmp("!="), x, y, shape),
                    BinaryOp::Lt => table.bin(Bin::Cmp("<"), x, y, shape),
                    BinaryOp::Le => table.bin(Bin::Cmp("<="), x, y, shape),
                    BinaryOp::Gt => table.bin(Bin::Cmp(">"), x, y, shape),
                    BinaryOp::Ge => table.bin(Bin::Cmp(">="), x, y, shape),
                }
            }
            Op::PowInt(k) => {
                let x = term_of[&args[0]];
                match k {
                    1 => x,
                    0 => table.lit(1.0, &shape).unwrap_or_else(|| table.intern(T::Pow(x, 0), shape)),
                    _ => table.intern(T::Pow(x, *k), shape),
                }
            }
            Op::Select => {
                let (c, x, y) = (operand(0), operand(1), operand(2));
                table.intern(T::If(c, x, y), shape)
            }
            Op::Convert { to } => table.intern(T::Call(dtype_name(*to), vec![term_of[&args[0]]], String::new()), shape),
            Op::Broadcast { shape: s } => {
                let x = term_of[&args[0]];
                if table.entries[x].shape == *s { x } else { table.intern(T::Call("broadcast", vec![x], format!(", {}", dims(s))), shape) }
            }
            Op::Reshape { shape: s } => {
                // One element broadcast and reshaped (how a scalar goes through a vector
                // function) is that element, reshaped.
                let mut a = args[0];
                if let Op::Broadcast { .. } = graph.node(a).op {
                    let inner = graph.args(a)[0];
                    if graph.node(inner).ty.shape.iter().product::<usize>() == 1 && s.iter().product::<usize>() == 1 {
                        a = inner;
                    }
                }
                let x = term_of[&a];
                if table.entries[x].shape == *s { x } else { table.intern(T::Call("reshape", vec![x], format!(", {}", dims(s))), shape) }
            }
            Op::Transpose { perm } if perm[..] == [1, 0] => table.intern(T::Transposed(term_of[&args[0]]), shape),
            Op::Transpose { .. } => return Err("transpose".into()),
            Op::Slice { starts, ends } => {
                let full = &graph.node(args[0]).ty.shape;
                let subs = starts.iter().zip(ends).zip(full).map(|((&lo, &hi), &n)| Some(slice_text(lo, hi, n))).collect();
                table.intern(T::Postfix(term_of[&args[0]], subs, None), shape)
            }
            Op::Gather { axis } => {
                let subs = (0..=*axis).map(|k| if k == *axis { None } else { Some(":".to_string()) }).collect();
                table.intern(T::Postfix(term_of[&args[0]], subs, Some(term_of[&args[1]])), shape)
            }
            Op::Concat { axis } => table.intern(T::Concat(args.iter().map(|a| term_of[a]).collect(), *axis), shape),
            Op::Reduce { op, axes } => {
                let rank = graph.node(args[0]).ty.shape.len();
                let name = reduce_name(*op);
                let mut x = term_of[&args[0]];
                if axes.len() == rank {
                    table.intern(T::Call(name, vec![x], String::new()), shape)
                } else {
                    // One axis at a time, the last first, so the earlier axes keep their numbers.
                    let mut cur = graph.node(args[0]).ty.shape.clone();
                    for &a in axes.iter().rev() {
                        cur.remove(a);
                        x = table.intern(T::Call(name, vec![x], format!(", axis = {a}")), cur.clone());
                    }
                    x
                }
            }
            Op::ArgMax { axis } => {
                let extra = axis.map_or(String::new(), |a| format!(", axis = {a}"));
                table.intern(T::Call("argmax", vec![term_of[&args[0]]], extra), shape)
            }
            Op::MatMul => table.bin(Bin::MatMul, term_of[&args[0]], term_of[&args[1]], shape),
            // The identity on its last operand, the function's value.
            Op::Custom { .. } => term_of[args.last().expect("custom_jvp has operands")],
        };
        term_of.insert(n, t);
    }
    Ok(Printer::new(&table, names).program(term_of[&out]))
}

fn constant(table: &mut Table, t: &Tensor) -> usize {
    let shape = t.shape().to_vec();
    if shape.is_empty() {
        match t.data() {
            Buffer::F64(v) => return table.intern(T::Num(v[0].to_bits()), shape),
            Buffer::F32(v) => return table.intern(T::Num((v[0] as f64).to_bits()), shape),
            _ => {}
        }
    }
    let text = gradc_runtime::format::tensor(t);
    table.intern(T::Atom(text), shape)
}

fn unary_name(u: UnaryOp) -> &'static str {
    match u {
        UnaryOp::Neg => "neg",
        UnaryOp::Not => "not",
        UnaryOp::Exp => "exp",
        UnaryOp::Log => "log",
        UnaryOp::Sin => "sin",
        UnaryOp::Cos => "cos",
        UnaryOp::Tan => "tan",
        UnaryOp::Tanh => "tanh",
        UnaryOp::Sigmoid => "sigmoid",
        UnaryOp::Relu => "relu",
        UnaryOp::Softplus => "softplus",
        UnaryOp::Gelu => "gelu",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Abs => "abs",
        UnaryOp::Sign => "sign",
        UnaryOp::Floor => "floor",
        UnaryOp::Ceil => "ceil",
        UnaryOp::Erf => "erf",
    }
}

fn reduce_name(r: ReduceOp) -> &'static str {
    match r {
        ReduceOp::Sum => "sum",
        ReduceOp::Prod => "prod",
        ReduceOp::Max => "max",
        ReduceOp::Min => "min",
        ReduceOp::All => "all",
        ReduceOp::Any => "any",
        ReduceOp::Parity => "parity",
    }
}

fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::F64 => "f64",
        DType::F32 => "f32",
        DType::I64 => "i64",
        DType::Bool => "bool",
    }
}

fn dims(s: &[usize]) -> String {
    format!("[{}]", s.iter().map(usize::to_string).collect::<Vec<_>>().join(", "))
}

fn slice_text(lo: usize, hi: usize, n: usize) -> String {
    match (lo, hi == n) {
        (0, true) => ":".into(),
        (0, false) => format!(":{hi}"),
        (_, true) => format!("{lo}:"),
        _ => format!("{lo}:{hi}"),
    }
}

/// A float constant readably: an integer without a point where the context makes it a
/// float (an operand of arithmetic), the shortest round-trip form otherwise.
fn number(v: f64, int_ok: bool) -> String {
    if v.is_nan() {
        "(0.0 / 0.0)".into()
    } else if v.is_infinite() {
        if v > 0.0 { "(1.0 / 0.0)".into() } else { "(-1.0 / 0.0)".into() }
    } else if int_ok && v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

struct Printer<'t> {
    table: &'t Table,
    /// Terms bound by `let`, with their names.
    bound: HashMap<usize, String>,
    taken: Vec<String>,
}

impl<'t> Printer<'t> {
    fn new(table: &'t Table, names: &[String]) -> Self {
        Printer { table, bound: HashMap::new(), taken: names.to_vec() }
    }

    /// The whole expression: a block with `let`s for large shared terms, or one expression.
    fn program(&mut self, root: usize) -> String {
        let mut uses = vec![0usize; self.table.entries.len()];
        let mut seen = vec![false; self.table.entries.len()];
        let mut stack = vec![root];
        seen[root] = true;
        while let Some(t) = stack.pop() {
            for c in Table::children(&self.table.entries[t].term) {
                uses[c] += 1;
                if !seen[c] {
                    seen[c] = true;
                    stack.push(c);
                }
            }
        }
        // Ids are in creation order, children before parents: `let`s in that order.
        let mut lets = Vec::new();
        for id in 0..self.table.entries.len() {
            if seen[id] && id != root && uses[id] >= 2 && self.table.entries[id].size >= LET_SIZE {
                let value = self.expr(id, 0, false);
                let name = self.fresh();
                lets.push(format!("let {name} = {value};"));
                self.bound.insert(id, name);
            }
        }
        // A bare float constant keeps its point, so that it stays a float.
        let value = self.expr(root, 0, false);
        if lets.is_empty() {
            value
        } else {
            format!("{{ {} {value} }}", lets.join(" "))
        }
    }

    fn fresh(&mut self) -> String {
        let mut k = 1;
        loop {
            let name = format!("t{k}");
            if !self.taken.contains(&name) {
                self.taken.push(name.clone());
                return name;
            }
            k += 1;
        }
    }

    fn prec(&self, id: usize) -> u8 {
        if self.bound.contains_key(&id) {
            return 9;
        }
        match &self.table.entries[id].term {
            T::Atom(_) | T::Call(..) | T::Postfix(..) | T::Transposed(_) | T::Concat(..) => 9,
            T::Num(b) => {
                let v = f64::from_bits(*b);
                if v.is_sign_negative() && !v.is_nan() { 6 } else { 9 }
            }
            T::Neg(_) | T::Not(_) => 6,
            T::Pow(..) => 7,
            T::Bin(op, ..) => op.prec(),
            T::If(..) => 0,
        }
    }

    /// `id` as an operand that needs precedence above `min`; `int_ok` where an integral float
    /// may be written as an integer literal.
    fn operand(&self, id: usize, min: u8, int_ok: bool) -> String {
        let text = self.expr(id, min, int_ok);
        if self.prec(id) < min {
            format!("({text})")
        } else {
            text
        }
    }

    fn expr(&self, id: usize, _min: u8, int_ok: bool) -> String {
        if let Some(name) = self.bound.get(&id) {
            return name.clone();
        }
        match &self.table.entries[id].term {
            T::Atom(s) => s.clone(),
            T::Num(b) => number(f64::from_bits(*b), int_ok),
            T::Neg(a) => format!("-{}", self.operand(*a, 7, true)),
            T::Not(a) => format!("!{}", self.operand(*a, 7, true)),
            T::Pow(a, k) => format!("{}^{k}", self.operand(*a, 8, false)),
            T::Bin(op, a, b) => {
                let p = op.prec();
                // Left-associative; comparisons do not chain, so both sides go higher.
                let left = if matches!(op, Bin::Cmp(_)) { p + 1 } else { p };
                let arith = !matches!(op, Bin::Or | Bin::And);
                format!("{} {} {}", self.operand(*a, left, arith), op.symbol(), self.operand(*b, p + 1, arith))
            }
            T::Call(name, args, extra) => {
                let args: Vec<String> = args.iter().map(|&a| self.expr(a, 0, false)).collect();
                format!("{name}({}{extra})", args.join(", "))
            }
            T::Postfix(base, subs, index) => {
                let subs: Vec<String> = subs.iter().map(|s| s.clone().unwrap_or_else(|| index.map(|i| self.expr(i, 0, false)).unwrap_or_default())).collect();
                format!("{}[{}]", self.operand(*base, 9, false), subs.join(", "))
            }
            T::Transposed(a) => format!("{}.T", self.operand(*a, 9, false)),
            T::Concat(args, axis) => {
                let args: Vec<String> = args.iter().map(|&a| self.expr(a, 0, false)).collect();
                format!("concat([{}], axis = {axis})", args.join(", "))
            }
            T::If(c, a, b) => format!("if {} {{ {} }} else {{ {} }}", self.expr(*c, 0, false), self.expr(*a, 0, false), self.expr(*b, 0, false)),
        }
    }
}
