//! Reading the program and everything it `use`s, and registering their top-level names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{hir, Checker, ConstInfo, ConstState, DerivedInfo, FileIdx, FileInfo, FnDeclInfo, Global};
use crate::diag::{codes, Diagnostic};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::{ast, parser};

/// The outcome of checking: the sources (for rendering diagnostics), the program, and the
/// diagnostics. The program is only meaningful when there are no diagnostics.
pub struct Checked {
    pub sources: SourceMap,
    pub program: hir::Program,
    pub diags: Vec<Diagnostic>,
}

impl Checked {
    pub fn is_ok(&self) -> bool {
        self.diags.is_empty()
    }

    /// All diagnostics, rendered in source order.
    pub fn render(&self, color: bool) -> String {
        crate::diag::render_all(&self.diags, &self.sources, color)
    }
}

/// Checks the program in the file at `path`. Fails only if the file itself cannot be read.
pub fn check_file(path: &Path) -> std::io::Result<Checked> {
    let bytes = std::fs::read(path)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(check_bytes(&path.display().to_string(), &bytes, dir))
}

/// Checks a program given as text; relative input paths start at `dir`.
pub fn check_source(name: &str, text: &str, dir: PathBuf) -> Checked {
    check_bytes(name, text.as_bytes(), dir)
}

/// The stack the front end runs on. The parser bounds nesting depth (E014); this gives the
/// recursive checker room under that bound on any caller's thread (test threads have 2 MiB).
pub const FRONT_END_STACK: usize = 256 << 20;

fn check_bytes(name: &str, bytes: &[u8], dir: PathBuf) -> Checked {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("gradc-check".into())
            .stack_size(FRONT_END_STACK)
            .spawn_scoped(s, || check_on_this_thread(name, bytes, dir))
            .map(|h| h.join())
    })
    .unwrap_or_else(|e| panic!("cannot start the checker's thread: {e}"))
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn check_on_this_thread(name: &str, bytes: &[u8], dir: PathBuf) -> Checked {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let root = read_source(&mut sources, name, None, bytes, &mut diags);
    if !diags.is_empty() {
        return Checked { sources, program: hir::Program::default(), diags };
    }
    let (module, diags) = parser::parse(root, &sources.get(root).text);
    check_parsed(sources, module, diags, dir, HashMap::new())
}

/// Checks a program assembled by the caller from files already in `sources` (the REPL's
/// session: its items, each from the line or file it was typed in, so that diagnostics point
/// there). Relative paths start at `dirs[file]` for the files listed, else at `dir`.
///
/// Runs on the caller's thread, which needs a stack of [`FRONT_END_STACK`] bytes.
pub fn check_module_on_this_thread(sources: SourceMap, module: ast::Module, dir: PathBuf, dirs: HashMap<FileId, PathBuf>) -> Checked {
    check_parsed(sources, module, Vec::new(), dir, dirs)
}

fn check_parsed(mut sources: SourceMap, module: ast::Module, diags: Vec<Diagnostic>, dir: PathBuf, dirs: HashMap<FileId, PathBuf>) -> Checked {
    let (program, diags) = {
        let mut checker = Checker {
            sources: &mut sources,
            diags,
            files: Vec::new(),
            fn_decls: Vec::new(),
            derived: Vec::new(),
            consts: Vec::new(),
            program: hir::Program::default(),
            instances: HashMap::new(),
            in_progress: Vec::new(),
            derived_in_progress: Vec::new(),
            derived_cyclic: Vec::new(),
            consts_in_progress: Vec::new(),
            unrolled: 0,
            broken_params: Vec::new(),
        };
        let mut loader = Loader { stdlib: HashMap::new(), files: HashMap::new(), stack: Vec::new() };
        let root_idx = loader.load_parsed(&mut checker, module, dir, dirs, false);
        checker.check_root(root_idx);
        (std::mem::take(&mut checker.program), checker.diags)
    };
    Checked { sources, program, diags }
}

/// Adds a file to the source map; a file that is not UTF-8 is reported (E007) and added
/// with the bad bytes replaced, so the diagnostic can point at them.
fn read_source(sources: &mut SourceMap, name: &str, path: Option<PathBuf>, bytes: &[u8], diags: &mut Vec<Diagnostic>) -> FileId {
    match std::str::from_utf8(bytes) {
        Ok(text) => sources.add(name, path, text.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let id = sources.add(name, path, text);
            let hi = (at + 3).min(sources.get(id).text.len());
            diags.push(
                Diagnostic::new(codes::INVALID_UTF8, "the file is not valid UTF-8", Span::new(id, at, hi), format!("invalid byte at offset {at}"))
                    .with_hint("gd source files are UTF-8 text; re-save the file as UTF-8"),
            );
            id
        }
    }
}

struct Loader {
    /// Standard-library modules already loaded, by name.
    stdlib: HashMap<String, FileIdx>,
    /// Files already loaded, by canonical path.
    files: HashMap<PathBuf, FileIdx>,
    /// Files being loaded (for cycles): canonical path, the `use` that brought it in, and
    /// its index.
    stack: Vec<(PathBuf, Span, FileIdx)>,
}

impl Loader {
    /// Parses one file, loads what it uses, and registers its names.
    fn load(&mut self, ck: &mut Checker, source: FileId, dir: PathBuf, stdlib: bool) -> FileIdx {
        let (module, diags) = parser::parse(source, &ck.sources.get(source).text);
        ck.diags.extend(diags);
        self.load_parsed(ck, module, dir, HashMap::new(), stdlib)
    }

    /// Loads what a parsed file uses and registers its names.
    fn load_parsed(&mut self, ck: &mut Checker, module: ast::Module, dir: PathBuf, file_dirs: HashMap<FileId, PathBuf>, stdlib: bool) -> FileIdx {
        let module = Rc::new(module);
        let idx = ck.files.len();
        ck.files.push(FileInfo { stdlib, module: module.clone(), dir: dir.clone(), file_dirs, uses: Vec::new(), own: HashMap::new() });
        for item in &module.items {
            match &item.kind {
                ast::ItemKind::UseModule(name) => {
                    if let Some(target) = self.load_module(ck, name) {
                        ck.files[idx].uses.push((name.name.clone(), target, item.span));
                    }
                }
                ast::ItemKind::UseFile(path, span) => {
                    let from = ck.files[idx].file_dirs.get(&span.file).unwrap_or(&dir).clone();
                    if let Some(target) = self.load_path(ck, &from, path, *span) {
                        let stem = Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                        ck.files[idx].uses.push((stem, target, item.span));
                    }
                }
                _ => {}
            }
        }
        for item in &module.items {
            register(ck, idx, item);
        }
        idx
    }

    fn load_module(&mut self, ck: &mut Checker, name: &ast::Ident) -> Option<FileIdx> {
        if let Some(&idx) = self.stdlib.get(&name.name) {
            return Some(idx);
        }
        let Some(text) = crate::stdlib::module_source(&name.name) else {
            let mut d = Diagnostic::new(codes::UNKNOWN_MODULE, format!("the standard library has no module `{}`", name.name), name.span, "unknown module");
            d = d.with_hint(format!("the modules are {}; to bring in a file write `use \"{}.gd\";`", crate::stdlib::MODULES.join(", "), name.name));
            ck.error(d);
            return None;
        };
        let source = ck.sources.add(format!("<stdlib>/{}.gd", name.name), None, text.to_string());
        // Reserve the name first: modules may use each other.
        let idx = self.load(ck, source, PathBuf::new(), true);
        self.stdlib.insert(name.name.clone(), idx);
        Some(idx)
    }

    fn load_path(&mut self, ck: &mut Checker, dir: &Path, path: &str, span: Span) -> Option<FileIdx> {
        let full = dir.join(path);
        let canonical = match full.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                ck.error(
                    Diagnostic::new(codes::USE_FILE, format!("cannot read `{}`: {}", full.display(), io_reason(&e)), span, "this file")
                        .with_hint("paths in `use` are relative to the file that uses them"),
                );
                return None;
            }
        };
        if let Some(pos) = self.stack.iter().position(|(p, _, _)| *p == canonical) {
            let chain: Vec<String> = self.stack[pos..].iter().map(|(p, _, _)| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
            let mut d = Diagnostic::new(
                codes::USE_CYCLE,
                format!("`use` cycle: {} -> {}", chain.join(" -> "), chain[0]),
                span,
                "this `use` closes the cycle",
            );
            if let Some((_, first, _)) = self.stack.get(pos + 1) {
                d = d.with_label(*first, "the cycle starts here");
            }
            ck.error(d.with_hint("move what both files need into a third file that both use"));
            // Still link the files, so that their names resolve (no cascade of unknown names).
            return Some(self.stack[pos].2);
        }
        if let Some(&idx) = self.files.get(&canonical) {
            return Some(idx);
        }
        let bytes = match std::fs::read(&canonical) {
            Ok(b) => b,
            Err(e) => {
                ck.error(Diagnostic::new(codes::USE_FILE, format!("cannot read `{}`: {}", full.display(), io_reason(&e)), span, "this file"));
                return None;
            }
        };
        let mut diags = Vec::new();
        let source = read_source(ck.sources, &full.display().to_string(), Some(canonical.clone()), &bytes, &mut diags);
        if !diags.is_empty() {
            ck.diags.extend(diags);
            return None;
        }
        self.stack.push((canonical.clone(), span, ck.files.len()));
        // Keep the path as written (relative where the program's is), for stable file names.
        let sub_dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        let idx = self.load(ck, source, sub_dir, false);
        self.stack.pop();
        self.files.insert(canonical, idx);
        Some(idx)
    }
}

/// Why a file cannot be read, in the same words on every system (not the OS's message).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Registers an item's name in its file's table (params and data only in the program
/// itself: modules hold functions and constants).
fn register(ck: &mut Checker, file: FileIdx, item: &ast::Item) {
    let is_root = file == 0;
    let (name, global) = match &item.kind {
        ast::ItemKind::Fn(decl) => {
            ck.fn_decls.push(FnDeclInfo { decl: Rc::clone(decl), file });
            (&decl.name, Global::Fn(ck.fn_decls.len() - 1))
        }
        ast::ItemKind::DerivedFn { name, value } => {
            ck.derived.push(DerivedInfo { name: name.clone(), value: Rc::new(value.clone()), file });
            (name, Global::Derived(ck.derived.len() - 1))
        }
        ast::ItemKind::Const { name, ty, value } => {
            ck.consts.push(ConstInfo { name: name.clone(), ty: ty.clone(), value: Rc::new(value.clone()), file, state: ConstState::Pending });
            (name, Global::Const(ck.consts.len() - 1))
        }
        ast::ItemKind::Param { name, .. } | ast::ItemKind::Data { name, .. } if !is_root => {
            let what = if matches!(item.kind, ast::ItemKind::Param { .. }) { "param" } else { "data" };
            ck.error(
                Diagnostic::new(codes::BAD_STATEMENT, format!("a used file cannot declare `{what}` items"), name.span, "only the program itself may declare this")
                    .with_hint("modules and used files hold functions and constants; declare params and data in the program"),
            );
            return;
        }
        ast::ItemKind::Param { name, .. } => {
            let id = hir::ParamId(ck.program.params.len() as u32);
            // The type is filled in by `check_root`; a placeholder keeps ids dense.
            ck.program.params.push(hir::ParamDecl {
                name: name.name.clone(),
                ty: super::types::TensorTy::scalar(super::types::Elem::F64),
                init: hir::Init::Fill(0.0),
                span: name.span,
            });
            (name, Global::Param(id))
        }
        ast::ItemKind::Data { name, .. } => {
            let id = hir::DataId(ck.program.data.len() as u32);
            ck.program.data.push(hir::DataDecl {
                name: name.name.clone(),
                ty: super::types::TensorTy::scalar(super::types::Elem::F64),
                source: hir::DataSource::Normal { mean: 0.0, std: 1.0, seed: 0 },
                span: name.span,
            });
            (name, Global::Data(id))
        }
        ast::ItemKind::Train { .. }
        | ast::ItemKind::Print(_)
        | ast::ItemKind::Assert(_)
        | ast::ItemKind::Save(..)
        | ast::ItemKind::Load(..)
        | ast::ItemKind::Bench { .. }
            if !is_root =>
        {
            ck.error(
                Diagnostic::new(codes::BAD_STATEMENT, "a used file cannot hold statements", item.span, "statements run only in the program itself")
                    .with_hint("move this statement into the program that uses this file"),
            );
            return;
        }
        _ => return,
    };
    if let Some((_, first)) = ck.files[file].own.get(&name.name) {
        let first = *first;
        ck.error(
            Diagnostic::new(codes::DUPLICATE_NAME, format!("`{}` is defined twice", name.name), name.span, "defined again here")
                .with_label(first, "first defined here")
                .with_hint("rename one of them"),
        );
        return;
    }
    if super::builtins::is_builtin(&name.name) {
        ck.error(
            Diagnostic::new(codes::DUPLICATE_NAME, format!("`{}` is a built-in function", name.name), name.span, "this would hide the built-in")
                .with_hint("choose another name"),
        );
        return;
    }
    ck.files[file].own.insert(name.name.clone(), (global, name.span));
}
