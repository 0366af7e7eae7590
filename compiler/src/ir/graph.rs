//! The IR graph: typed nodes on a petgraph `DiGraph`, an edge from each operand to its user
//! whose weight is the operand's position.
//!
//! Architecture Invariant: nodes are only ever appended, and a node's operands exist before
//! it, so index order is a topological order. Passes never edit a graph in place: they build
//! a new one (see `passes::simplify`), which keeps this invariant, and the DAG, for free.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use smallvec::SmallVec;

use super::op::{Op, Source, Type};
use crate::source::Span;

pub type NodeId = NodeIndex<u32>;

#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub ty: Type,
    /// The source the node was lowered from, for run-time errors (index out of range, …).
    pub span: Option<Span>,
}

/// Operand lists: most ops have at most three.
pub type Args = SmallVec<[NodeId; 3]>;

#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// The function (or statement) the graph computes, for printing.
    pub name: String,
    g: DiGraph<Node, u32, u32>,
    /// The results, tuple results flattened leaf by leaf.
    pub outputs: Vec<NodeId>,
    /// Names of `Source::Param`/`Source::Data` inputs, for printing: `(source, name)`.
    pub input_names: Vec<(Source, String)>,
    /// The span given to nodes as they are pushed (set by whoever builds the graph).
    pub current_span: Option<Span>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph { name: name.into(), ..Graph::default() }
    }

    /// Appends a node. Its type must be the op's result type for these operands (checked by
    /// [`super::verify`], and by a debug assertion here).
    pub fn push(&mut self, op: Op, ty: Type, args: &[NodeId]) -> NodeId {
        debug_assert!(args.iter().all(|a| a.index() < self.g.node_count()));
        let id = self.g.add_node(Node { op, ty, span: self.current_span });
        for (pos, &a) in args.iter().enumerate() {
            self.g.add_edge(a, id, pos as u32);
        }
        id
    }

    /// Appends a node of the op's own result type; `Err` says why the operands do not fit.
    pub fn add(&mut self, op: Op, args: &[NodeId]) -> Result<NodeId, String> {
        let ty = {
            let tys: SmallVec<[&Type; 3]> = args.iter().map(|&a| &self.g[a].ty).collect();
            op.result_type(&tys)?
        };
        Ok(self.push(op, ty, args))
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[id]
    }

    pub fn ty(&self, id: NodeId) -> &Type {
        &self.g[id].ty
    }

    pub fn op(&self, id: NodeId) -> &Op {
        &self.g[id].op
    }

    /// The operands of a node, in order.
    pub fn args(&self, id: NodeId) -> Args {
        let mut edges: SmallVec<[(u32, NodeId); 3]> = self
            .g
            .edges_directed(id, Direction::Incoming)
            .map(|e| (*e.weight(), e.source()))
            .collect();
        edges.sort_unstable_by_key(|&(pos, _)| pos);
        edges.into_iter().map(|(_, n)| n).collect()
    }

    /// How many operand slots use a node (an operand used twice counts twice).
    pub fn use_count(&self, id: NodeId) -> usize {
        self.g.edges_directed(id, Direction::Outgoing).count()
    }

    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// Every node in topological (index) order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.g.node_indices()
    }

    /// The underlying petgraph graph, for algorithms (cycle checks, traversals).
    pub fn petgraph(&self) -> &DiGraph<Node, u32, u32> {
        &self.g
    }

    /// The input nodes, in index order.
    pub fn inputs(&self) -> impl Iterator<Item = (NodeId, Source)> + '_ {
        self.ids().filter_map(|id| match self.op(id) {
            Op::Input { source, .. } => Some((id, *source)),
            _ => None,
        })
    }

    pub fn input_name(&self, source: Source) -> Option<&str> {
        self.input_names.iter().find(|(s, _)| *s == source).map(|(_, n)| n.as_str())
    }

    /// Nodes reachable backwards from the outputs: the ones that matter.
    pub fn live(&self) -> Vec<bool> {
        let mut live = vec![false; self.len()];
        for &o in &self.outputs {
            live[o.index()] = true;
        }
        for id in self.g.node_indices().rev() {
            if live[id.index()] {
                for e in self.g.edges_directed(id, Direction::Incoming) {
                    live[e.source().index()] = true;
                }
            }
        }
        live
    }

    /// Number of nodes that the outputs depend on.
    pub fn live_count(&self) -> usize {
        self.live().iter().filter(|&&l| l).count()
    }
}
