//! The checker: name resolution, types, shapes, generics and the typing of derivative
//! operators. It turns parsed files into one [`hir::Program`].
//!
//! Architecture Invariant: the checker never panics and reports every error it can;
//! after checking, every shape is concrete and every generic function is monomorphised
//! (an instance per distinct set of generic bindings and compile-time arguments).
//!
//! Functions are checked lazily, at their argument types, when something calls them; a
//! function with nothing generic is also checked once on its own so that its errors show
//! even if nothing calls it. Generic functions that nothing calls get a name check only.

mod builtins;
mod calls;
pub mod consts;
mod expr;
pub mod hir;
mod items;
mod load;
mod names;
mod scope;
mod stmts;
pub mod types;

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use crate::diag::{codes, Diagnostic};
use crate::source::{SourceMap, Span};
use crate::syntax::ast;
use consts::ConstValue;
use hir::{DataId, FnId, ParamId};

pub use items::data_diagnostic;
pub use load::{check_file, check_module_on_this_thread, check_source, Checked, FRONT_END_STACK};

/// The largest number of elements one tensor may have (2³⁴, 128 GiB of f64): shapes past it
/// are compile errors rather than allocation failures at run time.
pub const MAX_ELEMENTS: usize = 1 << 34;

/// Loops are unrolled: a program whose loops would emit more iterations than this in total
/// gets a diagnostic that suggests the vectorised form.
pub const MAX_UNROLLED_ITERATIONS: i64 = 100_000;

/// Index of a parsed file in the checker's file table.
type FileIdx = usize;

/// A top-level name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    Fn(usize),
    Derived(usize),
    Const(usize),
    Param(ParamId),
    Data(DataId),
}

impl Global {
    fn kind(self) -> &'static str {
        match self {
            Global::Fn(_) | Global::Derived(_) => "function",
            Global::Const(_) => "constant",
            Global::Param(_) => "param",
            Global::Data(_) => "data set",
        }
    }
}

/// A parsed file (the program, a `use`d file or a standard-library module) and its names.
struct FileInfo {
    /// A standard-library module: its functions are checked where they are used, and its
    /// generic ones are not name-checked on their own (the library's tests do that).
    stdlib: bool,
    module: Rc<ast::Module>,
    /// Directory that relative input paths start from.
    dir: PathBuf,
    /// For a module assembled from several source files (the REPL's session): the directory
    /// of each file whose relative paths start elsewhere than `dir` (a `:load`ed file's).
    file_dirs: HashMap<crate::source::FileId, PathBuf>,
    own: HashMap<String, (Global, Span)>,
    /// Modules and files this one brings in: the name they are qualified by (`nn`, or the
    /// file's stem), the file, and the `use` span.
    uses: Vec<(String, FileIdx, Span)>,
}

struct FnDeclInfo {
    decl: Rc<ast::FnDecl>,
    file: FileIdx,
}

struct DerivedInfo {
    name: ast::Ident,
    value: Rc<ast::Expr>,
    file: FileIdx,
}

enum ConstState {
    Pending,
    InProgress,
    Done(Option<ConstValue>),
}

struct ConstInfo {
    name: ast::Ident,
    ty: Option<ast::Type>,
    value: Rc<ast::Expr>,
    file: FileIdx,
    state: ConstState,
}

/// A generic binding of one instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum GenericValue {
    Dim(usize),
    Float(types::Elem),
    Rest(Vec<usize>),
}

/// What identifies one instance of a function: its generic bindings and the values of its
/// compile-time parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InstanceKey {
    decl: usize,
    generics: Vec<GenericValue>,
    consts: Vec<String>,
}

pub(crate) struct Checker<'s> {
    sources: &'s mut SourceMap,
    diags: Vec<Diagnostic>,
    files: Vec<FileInfo>,
    fn_decls: Vec<FnDeclInfo>,
    derived: Vec<DerivedInfo>,
    consts: Vec<ConstInfo>,
    program: hir::Program,
    instances: HashMap<InstanceKey, Option<FnId>>,
    /// Functions whose bodies are being checked, innermost last: a call of one of them is
    /// recursion.
    in_progress: Vec<(usize, Span)>,
    /// Derived functions being resolved (a `fn a = grad(b); fn b = grad(a);` cycle).
    derived_in_progress: Vec<usize>,
    /// Derived functions found on a cycle: already reported, so their uses are not.
    derived_cyclic: Vec<usize>,
    /// Constants being evaluated, innermost last: what a cycle's message names.
    consts_in_progress: Vec<usize>,
    /// Loop iterations unrolled so far, against [`MAX_UNROLLED_ITERATIONS`].
    unrolled: i64,
    /// Params whose declaration had an error: their uses are not checked again (their type
    /// is unknown, so every use would be a second, misleading error).
    broken_params: Vec<hir::ParamId>,
}

impl<'s> Checker<'s> {
    /// The directory relative input paths written at `span` start from.
    fn dir_at(&self, file: FileIdx, span: Span) -> &std::path::Path {
        let info = &self.files[file];
        info.file_dirs.get(&span.file).unwrap_or(&info.dir)
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Looks a top-level name up from `file`: its own items, then the modules it uses.
    fn lookup_global(&mut self, file: FileIdx, name: &ast::Ident) -> Option<Global> {
        if let Some((g, _)) = self.files[file].own.get(&name.name) {
            return Some(*g);
        }
        let mut found: Vec<(Global, String, Span)> = Vec::new();
        for (module, idx, use_span) in &self.files[file].uses {
            if let Some((g, _)) = self.files[*idx].own.get(&name.name) {
                found.push((*g, module.clone(), *use_span));
            }
        }
        match found.len() {
            0 => None,
            1 => Some(found[0].0),
            _ => {
                let (a, b) = (&found[0], &found[1]);
                self.error(
                    Diagnostic::new(
                        codes::AMBIGUOUS_NAME,
                        format!("`{}` is defined by both `{}` and `{}`", name.name, a.1, b.1),
                        name.span,
                        "ambiguous name",
                    )
                    .with_label(a.2, format!("`{}` comes from here", a.1))
                    .with_label(b.2, "and from here")
                    .with_hint(format!("qualify it: `{}::{}` or `{}::{}`", a.1, name.name, b.1, name.name)),
                );
                Some(a.0)
            }
        }
    }

    /// A top-level name (plain or qualified) without reporting anything: to tell user
    /// functions from built-ins, and functions from values, before checking.
    fn lookup_silent(&self, file: FileIdx, path: &ast::Path) -> Option<Global> {
        let info = &self.files[file];
        match &path.segments[..] {
            [name] => info.own.get(&name.name).or_else(|| info.uses.iter().find_map(|(_, idx, _)| self.files[*idx].own.get(&name.name))).map(|(g, _)| *g),
            [module, name] => info.uses.iter().find(|(m, _, _)| *m == module.name).and_then(|(_, idx, _)| self.files[*idx].own.get(&name.name)).map(|(g, _)| *g),
            _ => None,
        }
    }

    /// Looks a qualified name `module::name` up from `file`.
    fn lookup_qualified(&mut self, file: FileIdx, path: &ast::Path) -> Option<Global> {
        let module = &path.segments[0];
        let name = path.segments.last().expect("paths have a segment");
        if path.segments.len() != 2 {
            self.error(Diagnostic::new(codes::UNKNOWN_NAME, "paths have two parts, `module::name`", path.span, "too many parts"));
            return None;
        }
        let Some(&(_, idx, _)) = self.files[file].uses.iter().find(|(m, _, _)| *m == module.name) else {
            self.error(
                Diagnostic::new(codes::UNKNOWN_MODULE, format!("no module `{}` is in scope", module.name), module.span, "not brought in by `use`")
                    .with_hint(format!("add `use {};` at the top of the file", module.name)),
            );
            return None;
        };
        match self.files[idx].own.get(&name.name) {
            Some((g, _)) => Some(*g),
            None => {
                let mut d = Diagnostic::new(
                    codes::UNKNOWN_NAME,
                    format!("module `{}` has no `{}`", module.name, name.name),
                    name.span,
                    "not defined in that module",
                );
                if let Some(s) = self.similar_in_file(idx, &name.name) {
                    d = d.with_hint(format!("did you mean `{}::{s}`?", module.name));
                }
                self.error(d);
                None
            }
        }
    }

    /// A name of `file` close to `name` (for "did you mean" hints).
    fn similar_in_file(&self, file: FileIdx, name: &str) -> Option<String> {
        scope::closest(name, self.files[file].own.keys().map(String::as_str))
    }
}

