//! The REPL's session: a gd program that grows line by line.
//!
//! The session is its source files (every line typed, every file `:load`ed) and which of
//! them hold its declarations (`fn`, `const`, `param`, `data`, `use`) and its block
//! statements (`let`, assignments, `for`). Each input line becomes a program of the
//! session's declarations plus an item made for the line, built as an AST from the line's
//! own parse — `print { lets…; where-bindings…; e };` for an expression — and checked by the
//! ordinary checker. Every file keeps its `FileId` (its index here), so names, types,
//! shapes and diagnostics are those of `gradc check`/`gradc run`, rendered against the line
//! the user typed. Params keep their values from line to line (by name and declaring line).
//!
//! A declaration typed again under the same name replaces the earlier one (as an edit of the
//! file would; a param so redeclared starts again from its initialiser). A `let` is
//! re-evaluated by every later line that runs, in the order typed, as in a block; one that
//! reads a param sees the param's value at that line.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use gradc_compiler::check::hir::{FnId, PrintItem, Stmt};
use gradc_compiler::check::types::{Elem, Ty};
use gradc_compiler::check::{check_module_on_this_thread, Checked};
use gradc_compiler::diag::{codes, render_all, Diagnostic};
use gradc_compiler::source::{FileId, SourceMap, Span};
use gradc_compiler::syntax::{ast, parser};
use gradc_runtime::tensor::Tensor;

use super::build::{binding_stmt, block, expr, fn_item, float_literal, ident, item_name, name_expr, type_ast, use_key};
use super::line::{self, Binding, Command, Line};
use crate::run::RunOptions;

/// Names of the functions a `:d` line is checked as.
const F_NAME: &str = "__repl_f";
const D_NAME: &str = "__repl_d";

struct File {
    name: String,
    text: String,
    /// Where relative paths in it start, for a `:load`ed file.
    dir: Option<PathBuf>,
}

pub struct Session {
    files: Vec<File>,
    /// Files whose declarations belong to the session, oldest first.
    decl_files: Vec<usize>,
    /// Files that hold one block statement each, in order.
    stmt_files: Vec<usize>,
    /// Param values, by name and the file that declared the param.
    params: HashMap<(String, u32), Tensor>,
    options: RunOptions,
    color: bool,
    lines: usize,
}

/// What the loop does after a line.
#[derive(PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

type Out<'a> = &'a mut dyn Write;

impl Session {
    pub fn new(options: RunOptions) -> Session {
        Session { files: Vec::new(), decl_files: Vec::new(), stmt_files: Vec::new(), params: HashMap::new(), options, color: std::io::stderr().is_terminal(), lines: 0 }
    }

    /// Reads one line (or several joined, for an unfinished bracket) and does what it says.
    pub fn line(&mut self, text: &str, out: Out) -> Flow {
        if text.trim().is_empty() {
            return Flow::Continue;
        }
        self.lines += 1;
        let text = line::with_semicolon(text);
        let file = self.add_file(format!("<repl:{}>", self.lines), text.clone(), None);
        let result = match line::classify(FileId(file as u32), &text) {
            Line::Empty => Ok(()),
            Line::Items => self.items(file, out),
            Line::Stmt => self.stmt(file),
            Line::Expr { expr, bindings } => self.eval(file, expr, &bindings, out),
            Line::Command(c) => return self.command(file, c, out),
            Line::Bad(d) => Err(vec![*d]),
        };
        if let Err(diags) = result {
            self.report(&diags, out);
        }
        Flow::Continue
    }

    fn add_file(&mut self, name: String, text: String, dir: Option<PathBuf>) -> usize {
        self.files.push(File { name, text, dir });
        self.files.len() - 1
    }

    fn command(&mut self, file: usize, c: Command, out: Out) -> Flow {
        let result = match c {
            Command::Quit => return Flow::Quit,
            Command::Help => {
                let _ = write!(out, "{}", super::HELP);
                Ok(())
            }
            Command::Type { expr, bindings } => self.type_of(file, expr, &bindings, out),
            Command::Derivative { expr, wrt, bindings } => self.derivative(file, expr, wrt, &bindings, out),
            Command::Taylor { expr, var, at, order, bindings } => self.taylor(file, expr, var, at, order, &bindings, out),
            Command::Ir { name, clif } => self.ir(&name, clif, out),
            Command::Load { path, span } => self.load(&path, span, out),
        };
        if let Err(diags) = result {
            self.report(&diags, out);
        }
        Flow::Continue
    }

    /// Prints diagnostics to stderr, after what stdout holds so far.
    fn report(&self, diags: &[Diagnostic], out: Out) {
        let _ = out.flush();
        if diags.is_empty() {
            return;
        }
        let sources = self.sources(None);
        let typed = |d: &Diagnostic| self.files.get(d.span().file.0 as usize).is_some_and(|f| f.dir.is_none());
        let diags: Vec<Diagnostic> = diags.iter().map(|d| if typed(d) { at_end_of_line(d.clone()) } else { d.clone() }).collect();
        eprint!("{}", render_all(&diags, &sources, self.color));
    }

    /// Shows a diagnostic against a checked program's sources; nothing is left to report.
    fn shown(&self, d: &Diagnostic, checked: &Checked) -> Vec<Diagnostic> {
        eprint!("{}", d.render(&checked.sources, self.color));
        Vec::new()
    }

    // ----- assembling programs -----

    /// Every file, under its id; those the program does not read are left empty.
    fn sources(&self, current: Option<usize>) -> SourceMap {
        let mut used: HashSet<usize> = self.decl_files.iter().chain(&self.stmt_files).copied().collect();
        used.extend(current);
        let mut map = SourceMap::new();
        for (k, f) in self.files.iter().enumerate() {
            // Rendering needs every file a diagnostic may name; `current` None keeps all.
            let text = if current.is_none() || used.contains(&k) { f.text.clone() } else { String::new() };
            map.add(f.name.clone(), None, text);
        }
        map
    }

    fn parse_file(&self, file: usize) -> (ast::Module, Vec<Diagnostic>) {
        parser::parse(FileId(file as u32), &self.files[file].text)
    }

    /// The session's declarations, less those that `newer` declares again.
    fn declarations(&self, newer: &[ast::Item]) -> Vec<ast::Item> {
        let mut names: HashSet<String> = newer.iter().filter_map(item_name).collect();
        let mut uses: HashSet<String> = newer.iter().filter_map(use_key).collect();
        let mut kept: Vec<Vec<ast::Item>> = Vec::new();
        for &f in self.decl_files.iter().rev() {
            let (module, _) = self.parse_file(f);
            let mut mine = Vec::new();
            let mut declared = Vec::new();
            for item in module.items {
                if let Some(key) = use_key(&item) {
                    if uses.insert(key) {
                        mine.push(item);
                    }
                } else if let Some(name) = item_name(&item) {
                    if !names.contains(&name) {
                        declared.push(name);
                        mine.push(item);
                    }
                }
            }
            names.extend(declared);
            kept.push(mine);
        }
        kept.into_iter().rev().flatten().collect()
    }

    /// The session's block statements.
    fn lets(&self) -> Vec<ast::Stmt> {
        self.stmt_files.iter().filter_map(|&f| parser::parse_stmt(FileId(f as u32), &self.files[f].text).0).collect()
    }

    fn check(&self, current: usize, items: Vec<ast::Item>) -> Checked {
        let dirs = self.files.iter().enumerate().filter_map(|(k, f)| f.dir.clone().map(|d| (FileId(k as u32), d))).collect();
        check_module_on_this_thread(self.sources(Some(current)), ast::Module { items }, PathBuf::new(), dirs)
    }

    /// Checks; errors are shown at once, against the program's own sources (which hold the
    /// standard-library modules it uses too), and leave nothing more to report.
    fn check_ok(&self, current: usize, items: Vec<ast::Item>) -> Result<Checked, Vec<Diagnostic>> {
        let checked = self.check(current, items);
        if checked.is_ok() {
            return Ok(checked);
        }
        eprint!("{}", checked.render(self.color));
        Err(Vec::new())
    }

    /// Runs the program's statements with the session's params, and keeps their new values.
    fn run(&mut self, checked: &Checked, out: Out) -> Result<(), Vec<Diagnostic>> {
        let keys: Vec<(String, u32)> = checked.program.params.iter().map(|p| (p.name.clone(), p.span.file.0)).collect();
        let carried = keys.iter().map(|k| self.params.get(k).cloned()).collect();
        let (params, result) = crate::run::run_carrying(checked, &self.options, carried, out);
        for (k, v) in keys.into_iter().zip(params.into_iter().flatten()) {
            self.params.insert(k, v);
        }
        let _ = out.flush();
        if let Err(d) = result {
            eprint!("{}", d.render(&checked.sources, self.color));
            return Err(Vec::new());
        }
        Ok(())
    }

    // ----- lines -----

    /// Items typed at the prompt, or a `:load`ed file: checked with the session, their
    /// statements run, their declarations kept.
    fn items(&mut self, file: usize, out: Out) -> Result<(), Vec<Diagnostic>> {
        let (module, diags) = self.parse_file(file);
        if !diags.is_empty() {
            return Err(diags);
        }
        let mut items = self.declarations(&module.items);
        let declares = module.items.iter().any(|i| item_name(i).is_some() || use_key(i).is_some());
        items.extend(module.items);
        let checked = self.check_ok(file, items)?;
        // Declarations join the session even if a statement of the line then fails at run
        // time: they checked.
        if declares {
            self.decl_files.push(file);
        }
        self.run(&checked, out)
    }

    fn stmt(&mut self, file: usize) -> Result<(), Vec<Diagnostic>> {
        let (stmt, diags) = parser::parse_stmt(FileId(file as u32), &self.files[file].text);
        if !diags.is_empty() {
            return Err(diags);
        }
        let Some(stmt) = stmt else { return Ok(()) };
        let span = stmt.span;
        let mut stmts = self.lets();
        stmts.push(stmt);
        // `assert { …; true };` checks the statements in a block, as the next lines will.
        let value = expr(ast::ExprKind::Bool(true), span);
        let item = ast::Item { kind: ast::ItemKind::Assert(block(stmts, value)), span };
        let mut items = self.declarations(&[]);
        items.push(item);
        self.check_ok(file, items)?;
        self.stmt_files.push(file);
        Ok(())
    }

    fn with_lets(&self, bindings: &[Binding], value: ast::Expr) -> ast::Expr {
        let mut stmts = self.lets();
        stmts.extend(bindings.iter().map(binding_stmt));
        block(stmts, value)
    }

    fn eval(&mut self, file: usize, e: ast::Expr, bindings: &[Binding], out: Out) -> Result<(), Vec<Diagnostic>> {
        let span = e.span;
        let value = self.with_lets(bindings, e);
        let mut items = self.declarations(&[]);
        items.push(ast::Item { kind: ast::ItemKind::Print(vec![value]), span });
        let checked = self.check_ok(file, items)?;
        self.run(&checked, out)
    }

    /// The types of a `print`'s values in a checked program.
    fn printed_types(checked: &Checked) -> Vec<Ty> {
        match checked.program.stmts.last() {
            Some(Stmt::Print { items, .. }) => items.iter().filter_map(|i| if let PrintItem::Value(b) = i { Some(b.value.ty.clone()) } else { None }).collect(),
            _ => Vec::new(),
        }
    }

    /// `:type e`: the type of a value; for a function of the session, its declaration.
    fn type_of(&mut self, file: usize, e: ast::Expr, bindings: &[Binding], out: Out) -> Result<(), Vec<Diagnostic>> {
        let span = e.span;
        let signature = self.signature(&e);
        let value = self.with_lets(bindings, e);
        let mut items = self.declarations(&[]);
        items.push(ast::Item { kind: ast::ItemKind::Print(vec![value]), span });
        let checked = self.check(file, items);
        if !checked.is_ok() {
            if let Some(sig) = signature {
                let _ = writeln!(out, "{sig}");
                return Ok(());
            }
            eprint!("{}", checked.render(self.color));
            return Err(Vec::new());
        }
        for ty in Self::printed_types(&checked) {
            let _ = writeln!(out, "{ty}");
        }
        Ok(())
    }

    /// The declaration of the session's function `e` names, as written (up to its body).
    fn signature(&self, e: &ast::Expr) -> Option<String> {
        let ast::ExprKind::Name(path) = &e.kind else { return None };
        let [name] = &path.segments[..] else { return None };
        for &f in self.decl_files.iter().rev() {
            let text = &self.files[f].text;
            for item in self.parse_file(f).0.items {
                match &item.kind {
                    ast::ItemKind::Fn(decl) if decl.name.name == name.name => {
                        return text.get(item.span.lo as usize..decl.body.span.lo as usize).map(|s| s.trim_end().to_string());
                    }
                    ast::ItemKind::DerivedFn { name: n, .. } if n.name == name.name => return text.get(item.span.range()).map(str::to_string),
                    _ => {}
                }
            }
        }
        None
    }

    /// `:d e [wrt v] [where …]`: the derivative as gd source, and its value where every
    /// variable is bound.
    fn derivative(&mut self, file: usize, e: ast::Expr, wrt: Option<ast::Ident>, bindings: &[Binding], out: Out) -> Result<(), Vec<Diagnostic>> {
        let span = e.span;
        let vars = self.variables(file, &e)?;
        let bad = |message: String, at: Span, label: &str, hint: &str| Err(vec![Diagnostic::new(codes::REPL_COMMAND, message, at, label).with_hint(hint)]);
        if vars.is_empty() {
            return bad("the expression has no variable to differentiate with respect to".into(), span, "every name here is defined", "a variable is a name the session does not define: `:d x^2 * y wrt x`");
        }
        let k = match &wrt {
            Some(w) => match vars.iter().position(|(n, _)| *n == w.name) {
                Some(k) => k,
                None => {
                    let list = vars.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                    return bad(format!("`{}` is not a variable of the expression", w.name), w.span, "not a variable here", &format!("its variables are {list}"));
                }
            },
            None if vars.len() == 1 => 0,
            None => {
                let list = vars.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                return bad(format!("the expression has several variables: {list}"), span, "differentiate with respect to which?", &format!("name one: `:d … wrt {}`", vars[0].0));
            }
        };
        // Types: f64, or a bound variable's float type.
        let types = self.variable_types(file, &vars, bindings, span)?;
        let params: Vec<ast::Param> = vars.iter().zip(&types).map(|((n, s), t)| ast::Param { name: ident(n, *s), ty: type_ast(t, *s), default: None, span: *s }).collect();
        let f = fn_item(F_NAME, params.clone(), None, self.with_lets(&[], e), span);
        let mut items = self.declarations(&[]);
        items.push(f.clone());
        let checked = self.check_ok(file, items)?;
        let scalar = checked.program.fns.iter().find(|i| i.name == F_NAME).is_some_and(|i| matches!(&i.ret, Ty::Tensor(t) if t.shape.is_empty() && t.elem.is_float()));
        let op = if scalar { "grad" } else { "jacobian" };
        let call = |callee: ast::Expr| expr(ast::ExprKind::Call { callee: Box::new(callee), args: vars.iter().map(|(n, s)| ast::Arg { name: None, value: name_expr(n, *s) }).collect() }, span);
        let derived = expr(
            ast::ExprKind::Call {
                callee: Box::new(name_expr(op, span)),
                args: vec![ast::Arg { name: None, value: name_expr(F_NAME, span) }, ast::Arg { name: Some(ident("wrt", span)), value: expr(ast::ExprKind::Int(k as i64), span) }],
            },
            span,
        );
        let d = fn_item(D_NAME, params, None, block(Vec::new(), call(derived)), span);
        let bound_all = vars.iter().all(|(n, _)| bindings.iter().any(|b| b.name.name == *n));
        let mut items = self.declarations(&[]);
        items.push(f);
        items.push(d);
        if bound_all {
            items.push(ast::Item { kind: ast::ItemKind::Print(vec![self.with_lets(bindings, call(name_expr(D_NAME, span)))]), span });
        }
        let checked = self.check_ok(file, items)?;
        let Some(id) = checked.program.fns.iter().position(|i| i.name == D_NAME) else {
            return Err(vec![internal("the derivative was not instantiated", span)]);
        };
        let graph = gradc_compiler::lower::lower_fn(&checked.program, FnId(id as u32)).map_err(|d| self.shown(&d, &checked))?;
        let graph = gradc_compiler::passes::simplify::simplify(&graph);
        let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
        match super::show::to_gd(&graph, &names) {
            Ok(text) => {
                let _ = writeln!(out, "{text}");
            }
            Err(op) => {
                let _ = writeln!(out, "(the derivative uses `{op}`, which has no gd spelling; its graph:)\n{}", gradc_compiler::ir::print::print(&graph));
            }
        }
        if bound_all {
            self.run(&checked, out)?;
        }
        Ok(())
    }

    /// The variables of a `:d` expression: the names in it that the session does not define,
    /// in order of first use. The checker says which names are unknown; it may stop at the
    /// first one in a call, so the expression is checked again, as a function of the
    /// variables found so far, until no name is unknown.
    fn variables(&self, file: usize, e: &ast::Expr) -> Result<Vec<(String, Span)>, Vec<Diagnostic>> {
        let span = e.span;
        let inside = |s: Span| s.file == span.file && s.lo >= span.lo && s.hi <= span.hi;
        let f64_ty = Ty::Tensor(gradc_compiler::check::types::TensorTy::scalar(Elem::F64));
        let mut vars: Vec<(String, Span)> = Vec::new();
        loop {
            let params = vars.iter().map(|(n, s)| ast::Param { name: ident(n, *s), ty: type_ast(&f64_ty, *s), default: None, span: *s }).collect();
            let mut items = self.declarations(&[]);
            items.push(fn_item(F_NAME, params, None, self.with_lets(&[], e.clone()), span));
            let checked = self.check(file, items);
            let (unknown, other): (Vec<Diagnostic>, Vec<Diagnostic>) = checked.diags.into_iter().partition(|d| d.code == codes::UNKNOWN_NAME && inside(d.span()));
            let before = vars.len();
            for d in &unknown {
                let name = checked.sources.snippet(d.span()).to_string();
                if !vars.iter().any(|(n, _)| *n == name) {
                    vars.push((name, d.span()));
                }
            }
            if vars.len() == before {
                // Errors other than unknown names show once the variables have their types.
                let _ = other;
                vars.sort_by_key(|(_, s)| s.lo);
                return Ok(vars);
            }
        }
    }

    /// The type each variable of `:d` takes: its binding's, if it has one and it is a float
    /// tensor (an integer literal counts as `f64`), else `f64`.
    fn variable_types(&self, file: usize, vars: &[(String, Span)], bindings: &[Binding], span: Span) -> Result<Vec<Ty>, Vec<Diagnostic>> {
        let f64_ty = Ty::Tensor(gradc_compiler::check::types::TensorTy::scalar(Elem::F64));
        let bound: Vec<usize> = vars.iter().filter_map(|(n, _)| bindings.iter().position(|b| b.name.name == *n)).collect();
        if bound.is_empty() {
            return Ok(vec![f64_ty; vars.len()]);
        }
        // Each binding sees the ones before it, as the `let`s it becomes.
        let values = bound.iter().map(|&b| self.with_lets(&bindings[..b], bindings[b].value.clone())).collect();
        let mut items = self.declarations(&[]);
        items.push(ast::Item { kind: ast::ItemKind::Print(values), span });
        let checked = self.check_ok(file, items)?;
        let types = Self::printed_types(&checked);
        let mut out = Vec::new();
        for (n, _) in vars {
            let ty = match bindings.iter().position(|b| b.name.name == *n).and_then(|b| bound.iter().position(|&x| x == b)) {
                None => f64_ty.clone(),
                Some(k) => match &types[k] {
                    Ty::Tensor(t) if t.elem.is_float() => types[k].clone(),
                    Ty::Tensor(t) if t.elem == Elem::I64 && t.shape.is_empty() => f64_ty.clone(),
                    other => {
                        let b = &bindings[bound[k]];
                        return Err(vec![Diagnostic::new(codes::REPL_COMMAND, format!("`{n}` is bound to a value of type `{other}`, which `:d` cannot differentiate with respect to"), b.value.span, "not a float tensor")
                            .with_hint("bind it to a float: `where x = 2.0`")]);
                    }
                },
            };
            out.push(ty);
        }
        Ok(out)
    }

    /// `:taylor e at t = t0 order K`: `taylor(|t: f64| e, order = K)(t0, 1.0)`.
    #[allow(clippy::too_many_arguments)]
    fn taylor(&mut self, file: usize, e: ast::Expr, var: ast::Ident, at: ast::Expr, order: (i64, Span), bindings: &[Binding], out: Out) -> Result<(), Vec<Diagnostic>> {
        // The operator's call spans the whole command, so its diagnostics underline that.
        let span = e.span.to(order.1);
        let at = float_literal(at);
        let f64_ty = ast::Type { kind: ast::TypeKind::Tensor { elem: ident("f64", var.span), dims: None }, span: var.span };
        let lambda = expr(ast::ExprKind::Lambda { params: vec![ast::LambdaParam { name: var.clone(), ty: Some(f64_ty) }], body: Box::new(self.with_lets(bindings, e)) }, span);
        let op = expr(
            ast::ExprKind::Call {
                callee: Box::new(name_expr("taylor", span)),
                args: vec![ast::Arg { name: None, value: lambda }, ast::Arg { name: Some(ident("order", order.1)), value: expr(ast::ExprKind::Int(order.0), order.1) }],
            },
            span,
        );
        let call = expr(ast::ExprKind::Call { callee: Box::new(op), args: vec![ast::Arg { name: None, value: at }, ast::Arg { name: None, value: expr(ast::ExprKind::Float(1.0), span) }] }, span);
        let mut items = self.declarations(&[]);
        items.push(ast::Item { kind: ast::ItemKind::Print(vec![call]), span });
        let checked = self.check_ok(file, items)?;
        self.run(&checked, out)
    }

    /// `:ir f` and `:clif f`: as `gradc ir --fn f [--clif]`.
    fn ir(&mut self, name: &str, clif: bool, out: Out) -> Result<(), Vec<Diagnostic>> {
        let current = self.files.len() - 1;
        let checked = self.check_ok(current, self.declarations(&[]))?;
        let program = &checked.program;
        let base = |n: &str| n.split('[').next().unwrap_or(n).to_string();
        let chosen: Vec<usize> = (0..program.fns.len()).filter(|&i| base(&program.fns[i].name) == name || program.fns[i].name == name).collect();
        if chosen.is_empty() {
            let span = Span::new(FileId(current as u32), 0, self.files[current].text.len());
            return Err(vec![Diagnostic::new(codes::REPL_COMMAND, format!("the session has no function `{name}`"), span, "no such function")
                .with_hint("generic functions appear once something uses them; `:help` lists the commands")]);
        }
        for (k, i) in chosen.into_iter().enumerate() {
            let graph = gradc_compiler::lower::lower_fn(program, FnId(i as u32)).map_err(|d| self.shown(&d, &checked))?;
            let graph = gradc_compiler::passes::simplify::simplify(&graph);
            let text = if clif { gradc_compiler::codegen::clif(&graph) } else { gradc_compiler::ir::print::print(&graph) };
            let _ = write!(out, "{}{text}", if k > 0 { "\n" } else { "" });
        }
        Ok(())
    }

    /// `:load path`: the file's items join the session as if typed; its statements run.
    fn load(&mut self, path: &str, span: Span, out: Out) -> Result<(), Vec<Diagnostic>> {
        let bytes = std::fs::read(path).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound { "file not found".to_string() } else { e.to_string() };
            vec![Diagnostic::new(codes::REPL_COMMAND, format!("cannot read `{path}`: {why}"), span, "this file").with_hint("a relative path starts at the directory `gradc repl` runs in")]
        })?;
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(vec![Diagnostic::new(codes::INVALID_UTF8, format!("`{path}` is not valid UTF-8"), span, "this file").with_hint("gd source files are UTF-8 text")]);
        };
        let dir = Path::new(path).parent().map(Path::to_path_buf).unwrap_or_default();
        let file = self.add_file(path.to_string(), text, Some(dir));
        self.items(file, out)
    }
}

/// A typed line ends where a file would: say "line" (E011's words are the parser's).
fn at_end_of_line(mut d: Diagnostic) -> Diagnostic {
    if d.code == codes::UNEXPECTED_EOF {
        d.message = d.message.replace("the end of the file", "the end of the line");
        for l in &mut d.labels {
            l.message = l.message.replace("the file ends here", "the line ends here");
        }
    }
    d
}

fn internal(message: &str, span: Span) -> Diagnostic {
    Diagnostic::new(codes::INTERNAL, format!("internal error in the REPL: {message}"), span, "here").with_hint("this is a bug in gradc; please report it with this line")
}
