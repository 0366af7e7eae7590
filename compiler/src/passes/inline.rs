//! Copying one graph into another: how a transformed function is called, and how the
//! transforms assemble their results from the graphs of the passes.

use super::emit::Emitter;
use crate::ir::{Graph, NodeId, Op, Source};

/// Copies the live nodes of `g` into `e`; each `Arg(k)` input becomes `arg(e, k)`, params and
/// data stay inputs. Returns the nodes of `g`'s outputs.
pub fn inline(e: &mut Emitter, g: &Graph, arg: &mut dyn FnMut(&mut Emitter, u32) -> NodeId) -> Vec<NodeId> {
    let live = g.live();
    let mut map: Vec<Option<NodeId>> = vec![None; g.len()];
    for id in g.ids() {
        if !live[id.index()] {
            continue;
        }
        let node = g.node(id);
        let new = match &node.op {
            Op::Input { source: Source::Arg(k), .. } => arg(e, *k),
            op => {
                e.set_span(node.span);
                let args: Vec<NodeId> = g.args(id).iter().map(|a| map[a.index()].expect("operands first")).collect();
                e.add(op.clone(), &args)
            }
        };
        map[id.index()] = Some(new);
    }
    for (s, n) in &g.input_names {
        if !e.graph.input_names.iter().any(|(t, _)| t == s) {
            e.graph.input_names.push((*s, n.clone()));
        }
    }
    g.outputs.iter().map(|o| map[o.index()].expect("outputs are live")).collect()
}
