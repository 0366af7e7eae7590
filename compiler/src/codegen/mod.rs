//! The Cranelift backend: IR graphs compiled to native kernels that agree with the reference
//! interpreter ([`crate::interp`]), which stays the oracle.
//!
//! [`compile`] turns a graph into a [`Kernel`]; [`Kernel::run`] takes the interpreter's
//! [`Inputs`] and gives its results and errors. [`clif`] shows the Cranelift IR.
//!
//! # Design
//!
//! - `plan.rs`: the graph is partitioned into a schedule of steps. Elementwise ops of one shape
//!   (`unary`, `binary`, `powi`, `select`, `convert`) fuse into **regions** (at most 512
//!   nodes each, which bounds Cranelift's compile time), one loop nest each, which store
//!   only the values needed outside; layout ops (`broadcast`, `transpose`, `slice`,
//!   `reshape`, `custom_jvp`) are **views**, strided reads of a buffer, never copies unless
//!   something needs them as a buffer; reductions are accumulated inside the region
//!   computing their operand (any axes). `matmul` on floats calls `matrixmultiply`'s GEMM
//!   with the views' strides (a transposed operand is free; its threads are its own,
//!   `MATMUL_NUM_THREADS`). `gather` is a view too, its offset `i * stride` read at run time
//!   (the index checked before any read). `iota` and `concat` (copying its operands' views)
//!   are native loops (`exec.rs`). `argmax` and integer `matmul` are **scans** (`scan.rs`):
//!   a Cranelift function each, with the regions' ABI, reading their operands through
//!   views in the interpreter's exact order (so its bits). No op runs the interpreter's
//!   kernels.
//! - `layout.rs`: per region, the buffers it touches and its loop nest, with axes merged
//!   wherever all accesses allow (usually one flat loop).
//! - `emit.rs` and `ops.rs`: the Cranelift IR: the loop nest, a vector loop (`f64x2` or
//!   `f32x4`; Cranelift does not vectorize) and a scalar tail; the elementwise semantics of
//!   [`crate::ir::scalar`] op by op. Functions with no Cranelift instruction: `exp`, `log`,
//!   `sin`, `cos`, `tan`, `tanh`, `sigmoid`, `erf`, `softplus`, `gelu` are inline
//!   polynomial approximations (`polymath.rs`, vectorized, each within a documented bound,
//!   [`ulp_bound`]), and float `pow` too (`polypow.rs`: table-driven `log` and `exp`, a
//!   fast path per vector, special cases by lane masks, [`binary_ulp_bound`]), unless [`Options::exact_math`];
//!   float `rem`, and all of them with `exact_math`, call shims (`math.rs`) that run the
//!   interpreter's own scalar code.
//! - `exec.rs`: runs the steps, splits large regions and scans across threads by chunks of
//!   their outermost level ([`Options::threads`], [`Options::min_parallel_len`]; a region
//!   accumulating across its outermost axis stays on one thread, so a big one does not take
//!   that reduction in: it gets a region of its own), frees buffers after their last reader.
//! - `pool.rs`: the threads those chunks run on: one pool per process, started on first
//!   use, grown to the most helpers any kernel asked for (`threads - 1`), reused by every
//!   call of every kernel (a split costs a wake-up, not a spawn); the calling thread takes
//!   chunks too, so concurrent kernels cannot starve one another; idle workers spin for
//!   50 µs, then sleep; a panic in a chunk is raised in the caller once all chunks are over.
//!   The GEMM's threads are `matrixmultiply`'s own (`MATMUL_NUM_THREADS`).
//! - `jit.rs`: [`Jit`], the owner of the machine code (freed on drop).
//!
//! # Kernel ABI
//!
//! Each region and each scan is one function
//! `unsafe extern "C" fn(slots: *const *mut u8, lo: usize, hi: usize, status: *mut u64)`:
//! `slots` holds one pointer per buffer it reads or writes (reads, stored members, and
//! reduction results, in the region's `layout::Slot` order; a scan's operand views, then
//! its result), element 0 of each (a view's run-time `gather` offset applied); the
//! function runs indices `lo..hi` of the outermost level of its loop nest (all of it, or
//! one thread's chunk); it sets `*status = 1` if an integer division by zero happened.
//! Elements are the runtime's: `f64`, `f32`, `i64`, and `bool` as one byte 0 or 1.
//!
//! # Agreement with the interpreter
//!
//! With [`Options::exact_math`]: bit for bit, except NaN payloads, for everything
//! elementwise (the same IEEE operations in the same order; the same libm calls through the
//! shims; the same `powi` products). By default the approximated functions are within
//! their [`ulp_bound`] (`pow`: [`binary_ulp_bound`]) of libm (special values exact), and
//! everything else is bit for bit.
//! Either way the vector loop, the scalar tail and every thread split give the same bits
//! (the approximations are the same instructions lane for lane), so results do not depend
//! on [`Options::simd`] or [`Options::threads`]. Bit for bit too for
//! reductions (accumulated sequentially in row-major order; a float sum starts from `-0.0`,
//! which is the same), `argmax` and integer matrix products (wrapping). Float matrix
//! products differ within rounding: the GEMM sums in its own order, with fused
//! multiply-adds where the CPU has them. Errors: see `exec.rs`.
//!
//! # Speed
//!
//! P1 (value and gradient of `sum(tanh(x) * sin(x) + log(1 + x^2) - 0.5 * exp(-x^2))` over
//! 10⁶ `f64`: one fused loop with the sum beside the gradient): the interpreter ~110 ms;
//! with `exact_math` (five libm calls per element, scalar loop) 33 ms on one thread, 17 ms
//! on two (the 2-core machine); with the inline approximations (vectorized) 19 ms on one
//! thread and 9.7 ms on two (`gradc run` median; JAX's jit 13.7 ms, PyTorch eager 17.5 ms).
//! The pool replacing a `thread::scope` per split region per call measured no slower
//! (P1 59.4 → 57.1 ms, P2 2.76 → 2.77 ms/step, medians of alternating runs on the shared
//! 2-core machine at a load of ~9, where the wake-up it saves is lost in the noise).

mod emit;
mod exec;
mod jit;
mod layout;
mod math;
mod ops;
mod plan;
mod polymath;
mod polypow;
mod pool;
mod scan;

use std::fmt;
use std::sync::Mutex;

use cranelift_codegen::ir::{types, AbiParam, UserFuncName};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{Linkage, Module};
use gradc_runtime::tensor::Tensor;

pub use jit::Jit;
pub use polymath::ulp_bound;
pub use polypow::binary_ulp_bound;

use crate::interp::{EvalError, Inputs};
use crate::ir::{Graph, NodeId, Op};
use layout::Layout;

/// What a compilation may be asked to do differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Threads a large region is split across (1: none).
    pub threads: usize,
    /// Domain length (elements) from which a region is split across threads.
    pub min_parallel_len: usize,
    /// Vector loops (`f64x2` / `f32x4`) in front of the scalar ones.
    pub simd: bool,
    /// Cranelift's IR verifier (on in debug builds and tests).
    pub verify: bool,
    /// `exp`, `log`, `sin`, `cos`, `tan`, `tanh`, `sigmoid`, `erf`, `softplus`, `gelu` and
    /// float `pow` through the interpreter's libm calls (bit for bit the interpreter's)
    /// instead of the inline approximations of `polymath.rs` and `polypow.rs` (within
    /// [`ulp_bound`] and [`binary_ulp_bound`]; the default, and vectorized).
    pub exact_math: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            // Below this, starting threads costs more than it saves (measured on P1 and P2:
            // 2^16 made P2's step 25% slower than 2^18; 2^20 made P1 twice as slow).
            min_parallel_len: 1 << 18,
            simd: true,
            verify: cfg!(debug_assertions),
            exact_math: false,
        }
    }
}

/// Why a graph did not compile (a bug in the backend: every verified graph should).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenError {
    Cranelift(String),
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Cranelift(m) => write!(f, "Cranelift failed (a compiler bug): {m}"),
        }
    }
}

impl std::error::Error for CodegenError {}

/// A compiled graph: its native code (owned, freed on drop) and its schedule.
///
/// `Sync`: [`Kernel::run`] may be called from several threads at once.
pub struct Kernel {
    program: exec::Program,
    /// Only owned here, never used after compiling (a `Mutex` makes the `Send` module `Sync`).
    _jit: Mutex<Jit>,
}

/// What a kernel is made of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Compiled loop nests.
    pub regions: usize,
    /// Nodes computed inside them (elementwise ops and copies of views).
    pub fused: usize,
    /// Reductions accumulated inside them.
    pub reductions: usize,
    /// Float matrix products through the GEMM.
    pub matmuls: usize,
    /// `argmax` and integer `matmul` nodes, each a compiled function of its own.
    pub scans: usize,
}

impl Kernel {
    /// Runs the kernel: the interpreter's [`crate::interp::run`], natively. Errors are the
    /// interpreter's (node and variant).
    pub fn run(&self, inputs: &Inputs) -> Result<Vec<Tensor>, (NodeId, EvalError)> {
        self.program.run(inputs)
    }

    /// The graph it computes.
    pub fn graph(&self) -> &Graph {
        &self.program.graph
    }

    pub fn stats(&self) -> Stats {
        let p = &self.program.plan;
        let mut s = Stats { regions: p.regions.len(), ..Stats::default() };
        for r in &p.regions {
            s.fused += r.members.len();
            s.reductions += r.reduces.len();
        }
        for step in &p.steps {
            match step {
                plan::Step::MatMul { .. } => s.matmuls += 1,
                plan::Step::Scan { .. } => s.scans += 1,
                plan::Step::Region(_) | plan::Step::Native(_) => {}
            }
        }
        s
    }
}

/// Compiles `graph` with the default [`Options`].
pub fn compile(graph: &Graph) -> Result<Kernel, CodegenError> {
    compile_with(graph, &Options::default())
}

/// The domain length from which a region may be split across threads.
fn big_len(opts: &Options) -> usize {
    if opts.threads > 1 {
        opts.min_parallel_len.max(2)
    } else {
        usize::MAX
    }
}

fn layouts(graph: &Graph, plan: &plan::Plan, opts: &Options) -> Vec<Layout> {
    (0..plan.regions.len()).map(|r| Layout::new(graph, plan, r, opts.simd, opts.exact_math, big_len(opts))).collect()
}

pub fn compile_with(graph: &Graph, opts: &Options) -> Result<Kernel, CodegenError> {
    let plan = plan::plan(graph, opts);
    let layouts = layouts(graph, &plan, opts);
    let mut jit = Jit::new(opts.verify)?;
    let ids = build(&mut jit, graph, &plan, &layouts, opts.exact_math, |module, _, id, ctx| {
        module.define_function(id, ctx).map_err(|e| CodegenError::Cranelift(format!("{e:?}")))
    })?;
    let module = jit.module();
    module.finalize_definitions().map_err(|e| CodegenError::Cranelift(e.to_string()))?;
    let funcs = ids
        .into_iter()
        .map(|id| {
            let code = module.get_finalized_function(id);
            // SAFETY: the function was built with the kernel ABI's signature.
            unsafe { std::mem::transmute::<*const u8, exec::KernelFn>(code) }
        })
        .collect();
    let live = graph.live();
    let program = exec::Program {
        drops: exec::drops(graph, &plan, &layouts),
        inputs: graph.inputs().filter(|(id, _)| live[id.index()]).collect(),
        consts: graph.ids().filter(|id| live[id.index()] && matches!(graph.op(*id), Op::Const(_))).collect(),
        graph: graph.clone(),
        plan,
        layouts,
        funcs,
        threads: opts.threads.max(1),
        big_len: big_len(opts),
    };
    Ok(Kernel { program, _jit: Mutex::new(jit) })
}

/// The Cranelift IR of the functions `compile` builds for `graph` (before Cranelift's own
/// optimizations), one per region, each headed by the nodes it computes.
pub fn clif(graph: &Graph) -> String {
    clif_with(graph, &Options::default())
}

pub fn clif_with(graph: &Graph, opts: &Options) -> String {
    let plan = plan::plan(graph, opts);
    let layouts = layouts(graph, &plan, opts);
    let mut out = String::new();
    let built = Jit::new(false).and_then(|mut jit| {
        build(&mut jit, graph, &plan, &layouts, opts.exact_math, |_, r, _, ctx| {
            match plan.regions.get(r) {
                Some(region) => {
                    let nodes: Vec<String> = region.members.iter().chain(&region.reduces).map(|n| format!("%{}", n.index())).collect();
                    out.push_str(&format!("; region {r}: {} over {:?}\n", nodes.join(" "), region.shape));
                }
                None => out.push_str(&format!("; scan {}\n", r - plan.regions.len())),
            }
            out.push_str(&ctx.func.display().to_string());
            out.push('\n');
            Ok(())
        })
    });
    if let Err(e) = built {
        out.push_str(&format!("; {e}\n"));
    }
    out
}

/// Builds every region's function, then every scan's, and hands each to `each` (define
/// it, or print it) with its index among them.
fn build(
    jit: &mut Jit,
    graph: &Graph,
    plan: &plan::Plan,
    layouts: &[Layout],
    exact_math: bool,
    mut each: impl FnMut(&mut cranelift_jit::JITModule, usize, cranelift_module::FuncId, &mut Context) -> Result<(), CodegenError>,
) -> Result<Vec<cranelift_module::FuncId>, CodegenError> {
    let module = jit.module();
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.extend([ptr, ptr, ptr, ptr].map(AbiParam::new));
    debug_assert_eq!(ptr, types::I64);
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut ids = Vec::with_capacity(plan.regions.len());
    for (r, layout) in layouts.iter().enumerate() {
        let id = module
            .declare_function(&format!("region{r}"), Linkage::Local, &sig)
            .map_err(|e| CodegenError::Cranelift(e.to_string()))?;
        ctx.func.signature = sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        emit::region_body(b, module, graph, plan, r, layout, exact_math);
        each(module, r, id, &mut ctx)?;
        module.clear_context(&mut ctx);
        ids.push(id);
    }
    for step in &plan.steps {
        let plan::Step::Scan { node, args, func } = step else { continue };
        let id = module
            .declare_function(&format!("scan{func}"), Linkage::Local, &sig)
            .map_err(|e| CodegenError::Cranelift(e.to_string()))?;
        ctx.func.signature = sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let nest = scan::Nest::new(graph, *node, args);
        scan::body(b, graph, *node, args, &nest, module.target_config());
        each(module, ids.len(), id, &mut ctx)?;
        module.clear_context(&mut ctx);
        ids.push(id);
    }
    Ok(ids)
}
