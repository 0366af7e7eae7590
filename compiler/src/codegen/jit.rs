//! [`Jit`]: the Cranelift JIT module that owns a kernel's machine code, and the flags it is
//! built with.

use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;

use super::{math, CodegenError};

/// Owns one `JITModule`: the code and data of the functions compiled into it.
///
/// `JITModule` is `Send` but not `Sync`, and dropping it leaks its code memory by design
/// (Cranelift cannot know whether a function pointer still lives). A `Jit` frees that
/// memory when it is dropped (`JITModule::free_memory`), so whoever drops it must not call
/// its functions afterwards: a [`Kernel`](super::Kernel) keeps its `Jit` and hands out no
/// function pointers, which is what makes compiling and dropping in a loop (a REPL, a test)
/// run in constant memory.
pub struct Jit {
    module: Option<JITModule>,
}

impl Jit {
    /// A module for the host, with the math shims registered as symbols. `verify` turns on
    /// Cranelift's IR verifier (on in tests; it costs compile time).
    pub fn new(verify: bool) -> Result<Jit, CodegenError> {
        let err = |e: &dyn std::fmt::Display| CodegenError::Cranelift(e.to_string());
        let mut flags = settings::builder();
        for (k, v) in [
            ("opt_level", "speed"),
            ("enable_verifier", if verify { "true" } else { "false" }),
            ("use_colocated_libcalls", "false"),
            ("is_pic", "false"),
        ] {
            flags.set(k, v).map_err(|e| err(&e))?;
        }
        let isa = cranelift_native::builder()
            .map_err(|e| err(&e))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| err(&e))?;
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        builder.symbols(math::symbols());
        Ok(Jit { module: Some(JITModule::new(builder)) })
    }

    pub(super) fn module(&mut self) -> &mut JITModule {
        self.module.as_mut().expect("the module lives until drop")
    }
}

impl Drop for Jit {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the functions of this module are only called through the `Kernel` that
            // owns this `Jit`, which is being dropped, so none runs now or later.
            unsafe { m.free_memory() };
        }
    }
}
