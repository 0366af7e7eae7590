//! The backend that runs a graph: native code from the Cranelift JIT (the default), or the
//! reference interpreter (`--backend interp`). Both take the same inputs and give the same
//! results and errors (compiler/tests/jit.rs checks it).

use gradc_compiler::codegen::{self, Kernel, Options};
use gradc_compiler::interp::{self, EvalError, Inputs};
use gradc_compiler::ir::{Graph, NodeId};
use gradc_runtime::tensor::Tensor;

/// `--backend`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    #[default]
    Jit,
    Interp,
}

/// A graph ready to run on a backend.
pub enum Executable {
    Native(Kernel),
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
            Ok(k) => Executable::Native(k),
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
