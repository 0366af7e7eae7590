//! Declarations: `param` types and initialisers, `data` sources (reading file headers for
//! their shapes), and the order in which the program's items are checked.

use std::collections::HashSet;

use gradc_runtime::data::{self, DataErrorKind};

use super::consts::ConstValue;
use super::expr::const_eval;
use super::hir::{self, DataSource, Init};
use super::scope::BodyCtx;
use super::types::{Elem, TensorTy, Ty};
use super::{Checker, FileIdx, Global};
use crate::diag::{codes, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind as E};

impl Checker<'_> {
    /// Checks the program: declarations first (so bodies see their types), then every
    /// function that can be checked on its own, then the statements in order.
    pub(super) fn check_root(&mut self, root: FileIdx) {
        let module = self.files[root].module.clone();
        let (mut param, mut data) = (0u32, 0u32);
        for item in &module.items {
            match &item.kind {
                ast::ItemKind::Param { name, ty, init } => {
                    self.check_param(root, hir::ParamId(param), name, ty, init);
                    param += 1;
                }
                ast::ItemKind::Data { source, .. } => {
                    self.check_data(root, hir::DataId(data), source);
                    data += 1;
                }
                ast::ItemKind::Const { .. } => {
                    if let Some(Global::Const(c)) = self.files[root].own.get(&const_name(item)).map(|g| g.0) {
                        self.const_value(c, None);
                    }
                }
                _ => {}
            }
        }
        self.check_standalone_fns();
        for item in &module.items {
            self.check_statement(root, item);
        }
        // Generic functions that nothing instantiated: their names at least.
        let instantiated: HashSet<usize> = self.instances.keys().map(|k| k.decl).collect();
        for d in 0..self.fn_decls.len() {
            let (decl, file) = (self.fn_decls[d].decl.clone(), self.fn_decls[d].file);
            if !self.files[file].stdlib && !decl.generics.is_empty() && !instantiated.contains(&d) {
                self.check_names_only(&decl, file);
            }
        }
    }

    /// Checks every non-generic function of the program and its used files once, at its
    /// declared types, so that its errors show even if nothing calls it.
    fn check_standalone_fns(&mut self) {
        for d in 0..self.fn_decls.len() {
            let (decl, file) = (self.fn_decls[d].decl.clone(), self.fn_decls[d].file);
            if self.files[file].stdlib || !decl.generics.is_empty() {
                continue;
            }
            let mut cx = BodyCtx::new(file);
            let mut args = Vec::new();
            let mut ok = true;
            for p in decl.params.iter().filter(|p| p.default.is_none()) {
                match self.resolve_type(&mut cx, &p.ty) {
                    Some(ty) => args.push(super::calls::ArgInfo { ty, span: p.span, konst: None }),
                    None => ok = false,
                }
            }
            if ok {
                self.instantiate(&mut cx, &super::scope::FnValue::Decl(d), &args, &[], decl.name.span);
            }
        }
        for d in 0..self.derived.len() {
            let span = self.derived[d].name.span;
            let (value, file) = (self.derived[d].value.clone(), self.derived[d].file);
            let mut cx = BodyCtx::new(file);
            if !self.is_fn_expr(&cx, &value) {
                self.error(
                    Diagnostic::new(codes::NOT_CALLABLE, "`fn name = …;` needs a function on the right", value.span, "not a function")
                        .with_hint("e.g. `fn df = grad(f);`")
                        .with_label(span, "this name"),
                );
                continue;
            }
            self.fn_value(&mut cx, &value);
        }
    }

    fn check_param(&mut self, file: FileIdx, id: hir::ParamId, name: &ast::Ident, ty: &ast::Type, init: &ast::Expr) {
        let mut cx = BodyCtx::new(file);
        let Some(ty) = self.resolve_type(&mut cx, ty) else {
            self.broken_params.push(id);
            return;
        };
        let Ty::Tensor(t) = ty else {
            self.error(Diagnostic::new(codes::TYPE_MISMATCH, "a param must be a tensor or scalar, not a tuple", name.span, "tuple type").with_hint("declare one param per tensor"));
            self.broken_params.push(id);
            return;
        };
        let Some(init) = self.check_init(&mut cx, &t, init) else { return };
        let p = &mut self.program.params[id.index()];
        p.ty = t;
        p.init = init;
    }

    fn check_init(&mut self, cx: &mut BodyCtx, t: &TensorTy, init: &ast::Expr) -> Option<Init> {
        let bad = |me: &mut Self, msg: String, hint: &str| {
            me.error(Diagnostic::new(codes::BAD_INITIALISER, msg, init.span, "this initialiser").with_hint(hint.to_string()));
            None
        };
        let needs_float = |me: &mut Self, what: &str| {
            if t.elem.is_float() {
                Some(())
            } else {
                me.error(Diagnostic::new(codes::BAD_INITIALISER, format!("`{what}` initialises floats, but the param is `{t}`"), init.span, "needs a float param"));
                None
            }
        };
        if let E::Call { callee, args } = &init.kind {
            if let E::Name(p) = &callee.kind {
                let fname = p.segments[0].name.as_str();
                let nums = args.iter().map(|a| self.const_f64(cx, &a.value)).collect::<Option<Vec<f64>>>()?;
                let want = |me: &mut Self, n: usize, usage: &str| {
                    if nums.len() == n && args.iter().all(|a| a.name.is_none()) {
                        Some(())
                    } else {
                        me.error(Diagnostic::new(codes::BAD_INITIALISER, format!("`{fname}` takes {n} argument{}", if n == 1 { "" } else { "s" }), init.span, "wrong arguments").with_hint(format!("write `{usage}`")));
                        None
                    }
                };
                return match fname {
                    "zeros" => want(self, 0, "zeros()").map(|_| Init::Fill(0.0)),
                    "ones" => want(self, 0, "ones()").map(|_| Init::Fill(1.0)),
                    "fill" => want(self, 1, "fill(v)").map(|_| Init::Fill(nums[0])),
                    "normal" => {
                        needs_float(self, "normal")?;
                        want(self, 2, "normal(mean, std)")?;
                        if nums[1] < 0.0 {
                            return bad(self, format!("`normal` with a negative standard deviation ({})", nums[1]), "the standard deviation must be ≥ 0");
                        }
                        Some(Init::Normal { mean: nums[0], std: nums[1] })
                    }
                    "uniform" => {
                        needs_float(self, "uniform")?;
                        want(self, 2, "uniform(lo, hi)")?;
                        if nums[0] > nums[1] {
                            return bad(self, format!("`uniform({}, {})` has lo > hi", nums[0], nums[1]), "write the lower bound first");
                        }
                        Some(Init::Uniform { lo: nums[0], hi: nums[1] })
                    }
                    "glorot" => needs_float(self, "glorot").and_then(|_| want(self, 0, "glorot()")).map(|_| Init::Glorot),
                    "he" => needs_float(self, "he").and_then(|_| want(self, 0, "he()")).map(|_| Init::He),
                    "bernoulli" => {
                        want(self, 1, "bernoulli(p)")?;
                        if t.elem != Elem::Bool {
                            return bad(self, format!("`bernoulli` initialises `bool` params, but this one is `{t}`"), "use `uniform` or `normal` for numbers");
                        }
                        if !(0.0..=1.0).contains(&nums[0]) {
                            return bad(self, format!("`bernoulli({})`: a probability must be in [0, 1]", nums[0]), "write a probability between 0 and 1");
                        }
                        Some(Init::Bernoulli(nums[0]))
                    }
                    _ => bad(
                        self,
                        format!("`{fname}` is not a param initialiser"),
                        "initialisers are zeros(), ones(), fill(v), normal(mean, std), uniform(lo, hi), glorot(), he(), bernoulli(p), or a literal",
                    ),
                };
            }
        }
        // A literal: a scalar fills the param, a tensor must have its shape.
        let v = self.expr(cx, init)?;
        let Some(c) = const_eval(&v) else {
            return bad(self, "a param initialiser must be known at compile time".into(), "use an initialiser such as `zeros()` or a literal");
        };
        let ok_elem = |e: Elem| e.coerces_to(t.elem) || (e == Elem::WeakInt && t.elem.is_numeric());
        match c {
            ConstValue::Int(_) | ConstValue::Float(_) | ConstValue::Bool(_) if ok_elem(c.ty().as_tensor().expect("scalar").elem) => {
                let x = match c {
                    ConstValue::Bool(b) => f64::from(u8::from(b)),
                    c => c.as_f64().expect("a number"),
                };
                Some(Init::Fill(x))
            }
            ConstValue::Tensor { elem, shape, values } if ok_elem(elem) => {
                if shape != t.shape {
                    self.error(
                        Diagnostic::new(codes::SHAPE_MISMATCH, format!("the initialiser has shape {}, the param `{t}`", super::types::shape_str(&shape)), init.span, format!("shape {}", super::types::shape_str(&shape))),
                    );
                    return None;
                }
                Some(Init::Literal(values))
            }
            c => bad(self, format!("a `{}` literal cannot initialise a `{t}` param", c.ty()), "the literal's element type must fit the param's"),
        }
    }

    fn check_data(&mut self, file: FileIdx, id: hir::DataId, source: &ast::Expr) {
        let Some((ty, src)) = self.data_source(file, source) else { return };
        let d = &mut self.program.data[id.index()];
        d.ty = ty;
        d.source = src;
    }

    fn data_source(&mut self, file: FileIdx, source: &ast::Expr) -> Option<(TensorTy, DataSource)> {
        let usage = "a data set is `csv(\"f.csv\", header = true)`, `npy(\"f.npy\")`, `normal([n, d], seed = 1)` or `uniform([n, d], lo, hi, seed = 1)`";
        let E::Call { callee, args } = &source.kind else {
            self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, "a `data` item needs a source", source.span, "not a data source").with_hint(usage));
            return None;
        };
        let fname = match &callee.kind {
            E::Name(p) if p.segments.len() == 1 => p.segments[0].name.clone(),
            _ => String::new(),
        };
        let mut cx = BodyCtx::new(file);
        let positional: Vec<&ast::Expr> = args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
        let named: Vec<(&ast::Ident, &ast::Expr)> = args.iter().filter_map(|a| a.name.as_ref().map(|n| (n, &a.value))).collect();
        let unknown = |me: &mut Self, n: &ast::Ident, allowed: &str| {
            me.error(Diagnostic::new(codes::BAD_DATA_SOURCE, format!("`{fname}` has no argument `{}`", n.name), n.span, "unknown argument").with_hint(format!("its named arguments are {allowed}")));
            None
        };
        match fname.as_str() {
            "csv" | "npy" => {
                let Some(E::Str(path)) = positional.first().map(|e| &e.kind) else {
                    self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, format!("`{fname}` needs the file's path as a string"), source.span, "no path").with_hint(usage));
                    return None;
                };
                if positional.len() > 1 {
                    self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, format!("`{fname}` takes one path; other options are named"), positional[1].span, "extra argument").with_hint(usage));
                    return None;
                }
                let path_span = positional[0].span;
                if self.malformed_string(path_span) {
                    // Already reported by the lexer (`'f.csv'`, a missing quote): the path is
                    // a guess, so a missing-file error would only repeat that error.
                    return None;
                }
                let full = self.dir_at(file, path_span).join(path);
                if fname == "npy" {
                    if let Some((n, _)) = named.first() {
                        return unknown(self, n, "none");
                    }
                    let h = match data::npy_header(&full) {
                        Ok(h) => h,
                        Err(e) => return self.data_error(e, path_span),
                    };
                    let elem = match h.dtype {
                        data::Dtype::F64 => Elem::F64,
                        data::Dtype::F32 => Elem::F32,
                        data::Dtype::I64 => Elem::I64,
                        data::Dtype::Bool => Elem::Bool,
                    };
                    return Some((TensorTy::new(elem, h.shape), DataSource::Npy { path: full }));
                }
                let mut opts = data::CsvOptions::default();
                for (n, e) in &named {
                    match n.name.as_str() {
                        "header" => match e.kind {
                            E::Bool(b) => opts.header = b,
                            _ => {
                                self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, "`header` is `true` or `false`", e.span, "not a bool"));
                                return None;
                            }
                        },
                        "columns" => {
                            let names = match &e.kind {
                                E::TensorLit(items) => items.iter().map(|i| if let E::Str(s) = &i.kind { Some(s.clone()) } else { None }).collect::<Option<Vec<_>>>(),
                                _ => None,
                            };
                            let Some(names) = names else {
                                self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, "`columns` is a list of header names: `columns = [\"a\", \"c\"]`", e.span, "not a list of strings"));
                                return None;
                            };
                            opts.columns = Some(names);
                        }
                        _ => return unknown(self, n, "`header` and `columns`"),
                    }
                }
                let shape = match data::csv_shape(&full, &opts) {
                    Ok(s) => s,
                    Err(e) => {
                        // A missing column is reported at its name in `columns = [...]`.
                        let column = (e.kind == DataErrorKind::UnknownColumn).then(|| column_span(&named, &e.message)).flatten();
                        return match column {
                            Some(at) => {
                                let mut d = data_diagnostic(e, at);
                                d.labels[0].message = "not a column of this file".into();
                                self.error(d.with_label(path_span, "this data file"));
                                None
                            }
                            None => self.data_error(e, path_span),
                        };
                    }
                };
                Some((TensorTy::new(Elem::F64, vec![shape.rows, shape.cols]), DataSource::Csv { path: full, header: opts.header, columns: opts.columns }))
            }
            "normal" | "uniform" => {
                let is_uniform = fname == "uniform";
                let shape_e = positional.first().copied()?;
                let shape = self.const_shape(&mut cx, shape_e)?;
                let mut vals = [0.0, 1.0];
                let names: [&str; 2] = if is_uniform { ["lo", "hi"] } else { ["mean", "std"] };
                if positional.len() > 3 {
                    self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, format!("`{fname}` takes a shape and at most two numbers"), positional[3].span, "extra argument").with_hint(usage));
                    return None;
                }
                for (i, e) in positional.iter().skip(1).enumerate() {
                    vals[i] = self.const_f64(&mut cx, e)?;
                }
                let mut seed = 0u64;
                for (n, e) in &named {
                    match n.name.as_str() {
                        "seed" => {
                            let s = self.const_int(&mut cx, e, "a seed")?;
                            if s < 0 {
                                self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, "a seed must be ≥ 0", e.span, "negative"));
                                return None;
                            }
                            seed = s as u64;
                        }
                        x if names.contains(&x) => vals[names.iter().position(|y| *y == x).expect("contained")] = self.const_f64(&mut cx, e)?,
                        _ => return unknown(self, n, &format!("`{}`, `{}` and `seed`", names[0], names[1])),
                    }
                }
                let bytes = shape.iter().try_fold(8usize, |a, &d| a.checked_mul(d));
                if bytes.is_none_or(|b| b as u64 > data::default_max_bytes()) {
                    self.error(
                        Diagnostic::new(codes::GRAPH_TOO_LARGE, format!("a generated data set of shape {} needs more memory than the limit of {} bytes", super::types::shape_str(&shape), data::default_max_bytes()), shape_e.span, "too large")
                            .with_hint("make it smaller"),
                    );
                    return None;
                }
                let src = if is_uniform { DataSource::Uniform { lo: vals[0], hi: vals[1], seed } } else { DataSource::Normal { mean: vals[0], std: vals[1], seed } };
                Some((TensorTy::new(Elem::F64, shape), src))
            }
            _ => {
                self.error(Diagnostic::new(codes::BAD_DATA_SOURCE, "a `data` item needs a source", source.span, "not a data source").with_hint(usage));
                None
            }
        }
    }

    fn const_shape(&mut self, cx: &mut BodyCtx, e: &ast::Expr) -> Option<Vec<usize>> {
        let v = self.expr(cx, e)?;
        match const_eval(&v) {
            Some(ConstValue::Tensor { elem: Elem::WeakInt | Elem::I64, shape, values }) if shape.len() == 1 && values.iter().all(|&x| x >= 0.0) => Some(values.iter().map(|&x| x as usize).collect()),
            _ => {
                self.error(Diagnostic::new(codes::NOT_CONSTANT, "a shape must be a list of non-negative integers known at compile time", e.span, "not a constant shape").with_hint("e.g. `[1000, 2]`"));
                None
            }
        }
    }

    /// Reports a data file problem at the path in the source.
    /// Whether the string literal at `span` was malformed (reported while lexing).
    fn malformed_string(&self, span: Span) -> bool {
        self.diags.iter().any(|d| {
            let at = d.span();
            matches!(d.code, codes::UNKNOWN_CHAR | codes::UNTERMINATED_STRING) && at.file == span.file && at.lo >= span.lo && at.hi <= span.hi
        })
    }

    fn data_error<T>(&mut self, e: data::DataError, span: Span) -> Option<T> {
        self.error(data_diagnostic(e, span));
        None
    }
}

/// A data file problem as a diagnostic at `span` (the path in the source); the run time
/// reports its data errors the same way.
pub fn data_diagnostic(e: data::DataError, span: Span) -> Diagnostic {
    let code = match e.kind {
        DataErrorKind::Missing | DataErrorKind::Unreadable => codes::DATA_FILE,
        DataErrorKind::UnknownColumn => codes::DATA_COLUMN,
        DataErrorKind::TooLarge => codes::GRAPH_TOO_LARGE,
        _ => codes::DATA_FORMAT,
    };
    // A message that already names its line (`line 4 has 1 cell, …`) says it once.
    let place = match e.line {
        Some(l) if !e.message.starts_with(&format!("line {l} ")) && !e.message.starts_with(&format!("line {l},")) => format!("{}:{l}", e.path.display()),
        _ => e.path.display().to_string(),
    };
    let mut d = Diagnostic::new(code, format!("{place}: {}", e.message), span, "this data file");
    if let Some(h) = e.hint {
        d = d.with_hint(h);
    } else if e.kind == DataErrorKind::Missing {
        d = d.with_hint("input paths are relative to the .gd file");
    }
    d
}

/// The span of the `columns = [...]` entry that an unknown-column message names.
fn column_span(named: &[(&ast::Ident, &ast::Expr)], message: &str) -> Option<Span> {
    let (_, list) = named.iter().find(|(n, _)| n.name == "columns")?;
    let E::TensorLit(items) = &list.kind else { return None };
    items.iter().find(|i| matches!(&i.kind, E::Str(s) if message.contains(&format!("named {s:?};")))).map(|i| i.span)
}

fn const_name(item: &ast::Item) -> String {
    match &item.kind {
        ast::ItemKind::Const { name, .. } => name.name.clone(),
        _ => String::new(),
    }
}
