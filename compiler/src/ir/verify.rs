//! The verifier: checks a graph's invariants. Tests run it after every pass.
//!
//! - the graph is acyclic, and index order is topological (every operand precedes its user);
//! - operand positions are exactly `0..n` for each node;
//! - every node's stored type is its op's result type for its operands' types;
//! - every output exists.

use petgraph::visit::EdgeRef;
use petgraph::Direction;

use super::graph::{Graph, NodeId};
use super::op::Type;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    pub node: Option<NodeId>,
    pub message: String,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.node {
            Some(n) => write!(f, "%{}: {}", n.index(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

pub fn verify(graph: &Graph) -> Result<(), VerifyError> {
    let err = |node: Option<NodeId>, message: String| Err(VerifyError { node, message });
    let g = graph.petgraph();
    if petgraph::algo::is_cyclic_directed(g) {
        return err(None, "the graph has a cycle".into());
    }
    for id in graph.ids() {
        let mut positions: Vec<u32> = Vec::new();
        for e in g.edges_directed(id, Direction::Incoming) {
            if e.source().index() >= id.index() {
                return err(Some(id), format!("operand %{} does not precede its user", e.source().index()));
            }
            positions.push(*e.weight());
        }
        positions.sort_unstable();
        if positions.iter().enumerate().any(|(i, &p)| p as usize != i) {
            return err(Some(id), format!("operand positions {positions:?} are not 0..n"));
        }
        let args = graph.args(id);
        let tys: Vec<&Type> = args.iter().map(|&a| graph.ty(a)).collect();
        let node = graph.node(id);
        match node.op.result_type(&tys) {
            Ok(ty) if ty == node.ty => {}
            Ok(ty) => return err(Some(id), format!("stored type {} but `{}` gives {ty}", node.ty, node.op.name())),
            Err(e) => return err(Some(id), e),
        }
    }
    for &o in &graph.outputs {
        if o.index() >= graph.len() {
            return err(None, format!("output %{} does not exist", o.index()));
        }
    }
    Ok(())
}
