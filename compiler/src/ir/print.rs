//! The text form of a graph (docs/ir.md documents it):
//!
//! ```text
//! graph model[B=4]
//!   %0 = input arg0 : f64[4]
//!   %1 = input w : f64
//!   %2 = broadcast %1 : f64[4]
//!   %3 = mul %0, %2 : f64[4]
//!   return %3
//! ```
//!
//! One node per line in topological order: its number, op, attributes, operands and type.
//! Inputs show the param or data name where the graph knows it. Only live nodes are shown
//! unless `all` is asked for, and numbers are renumbered densely so snapshots stay stable.

use std::fmt::Write;

use super::graph::Graph;
use super::op::{Op, Source};

pub fn print(graph: &Graph) -> String {
    render(graph, false)
}

/// Every node, dead ones included.
pub fn print_all(graph: &Graph) -> String {
    render(graph, true)
}

fn render(graph: &Graph, all: bool) -> String {
    let live = if all { vec![true; graph.len()] } else { graph.live() };
    let mut number = vec![usize::MAX; graph.len()];
    let mut out = String::new();
    let _ = writeln!(out, "graph {}", graph.name);
    let mut next = 0;
    for id in graph.ids() {
        if !live[id.index()] {
            continue;
        }
        number[id.index()] = next;
        let node = graph.node(id);
        let _ = write!(out, "  %{next} = {}", node.op.name());
        next += 1;
        let attrs = match &node.op {
            Op::Input { source: s @ (Source::Param(_) | Source::Data(_)), .. } => {
                graph.input_name(*s).map(str::to_string).unwrap_or_else(|| node.op.attrs())
            }
            op => op.attrs(),
        };
        if !attrs.is_empty() {
            let _ = write!(out, " {attrs}");
        }
        let args: Vec<String> = graph.args(id).iter().map(|a| format!("%{}", number[a.index()])).collect();
        if !args.is_empty() {
            let _ = write!(out, " {}", args.join(", "));
        }
        let _ = writeln!(out, " : {}", node.ty);
    }
    let outs: Vec<String> = graph.outputs.iter().map(|o| format!("%{}", number[o.index()])).collect();
    let _ = writeln!(out, "  return {}", outs.join(", "));
    out
}
