//! The backend that runs a graph: native code from the Cranelift JIT (the default), or the
//! reference interpreter (`--backend interp`). Both take the same inputs and give the same
//! results and errors (compiler/tests/jit.rs checks it).

use gradc_compiler::codegen::{self, Kernel, Options};
use gradc_compiler::interp::{self, EvalError, Inputs};
use gradc_compiler::ir::{Graph, NodeId};
use gradc_runtime::tensor::Tensor;

/// `--backend`: where compiled graphs run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Native code from the Cranelift JIT (the default).
    #[default]
    Jit,
    /// The reference interpreter (the oracle the JIT is tested against).
    Interp,
}

/// A graph ready to run on a backend.
pub enum Executable {
    Native(Box<Kernel>),
    Interpreted(Graph),
}

impl Executable {
    /// Compiles `graph` for `backend`. A graph the JIT cannot compile (a bug in the backend)
    /// runs on the interpreter instead, with a warning: the run stays correct.
    pub fn new(graph: Graph, backend: Backend, threads: Option<usize>) -> Executable {
        if backend == Backend::Interp {
            return Executable::Interpreted(graph);
        }
        let mut options = Options::default();
        if let Some(t) = threads {
            options.threads = t.max(1);
        }
        match codegen::compile_with(&graph, &options) {
            Ok(k) => Executable::Native(Box::new(k)),
            Err(e) => {
                eprintln!("warning: `{}` runs on the interpreter: {e}", graph.name);
                Executable::Interpreted(graph)
            }
        }
    }

    pub fn run(&self, inputs: &Inputs) -> Result<Vec<Tensor>, (NodeId, EvalError)> {
        match self {
            Executable::Native(k) => k.run(inputs),
            Executable::Interpreted(g) => interp::run(g, inputs),
        }
    }

    pub fn graph(&self) -> &Graph {
        match self {
            Executable::Native(k) => k.graph(),
            Executable::Interpreted(g) => g,
        }
    }
}

/// Compiled graphs of a run, keyed by the whole graph (ops with their constants, types,
/// operands, the source spans its errors point at, outputs): a statement whose graph was
/// compiled before — `print accuracy()` before and after a `train` — reuses the kernel.
#[derive(Default)]
pub struct Cache {
    kernels: std::cell::RefCell<std::collections::HashMap<GraphKey, std::rc::Rc<Executable>>>,
}

type GraphKey = (Vec<(gradc_compiler::ir::Op, gradc_compiler::ir::Type, Vec<u32>, Option<gradc_compiler::source::Span>)>, Vec<u32>);

fn key(g: &Graph) -> GraphKey {
    let nodes = g
        .ids()
        .map(|n| {
            let node = g.node(n);
            (node.op.clone(), node.ty.clone(), g.args(n).iter().map(|a| a.index() as u32).collect(), node.span)
        })
        .collect();
    (nodes, g.outputs.iter().map(|o| o.index() as u32).collect())
}

impl Cache {
    pub fn get_or_compile(&self, graph: Graph, backend: Backend, threads: Option<usize>) -> std::rc::Rc<Executable> {
        let k = key(&graph);
        if let Some(e) = self.kernels.borrow().get(&k) {
            return e.clone();
        }
        let e = std::rc::Rc::new(Executable::new(graph, backend, threads));
        self.kernels.borrow_mut().insert(k, e.clone());
        e
    }
}
