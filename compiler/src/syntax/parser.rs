//! The parser: tokens from [`lexer::lex`] into an [`ast::Module`], with every syntax error
//! as a diagnostic.
//!
//! # Design
//! - **Generated.** `grammar/gd.lalrpop` is an LALR(1) grammar; lalrpop turns it into a
//!   table-driven parser at build time (`compiler/build.rs`). lalrpop rejects a grammar with
//!   conflicts, so an ambiguity in the language fails the build.
//! - **Actions are thin.** Each grammar action is one call into [`super::build`], which
//!   attaches spans and reports what an action can see (`a < b < c`, `.x`, `x[i] = e`, a
//!   block without a value).
//! - **Never deep, never recursive.** The table parser keeps its stack on the heap and never
//!   recurses. Three bounds keep both that stack and the AST small whatever the input:
//!   1. Right-associative forms (lambdas, prefix `-`/`!`, `^`, `else if`) are parsed as
//!      left-recursive lists and folded by the actions, so a chain does not pile up on the
//!      parser's stack.
//!   2. Delimiters `(`, `[`, `{` nested more than [`MAX_NESTING`] deep, and as many `if`s
//!      waiting for their `else`, stop the parse with E014 (fatal; the items before it are
//!      kept). These are the only other ways to grow the parser's stack. Lambda parameter
//!      lists `|…|` cannot nest except through the brackets of their types, which count.
//!   3. Every tree is built with its depth ([`build::Deep`]): one that would be deeper than
//!      [`build::MAX_DEPTH`] is reported (E014) and its item dropped. The bound holds while
//!      the tree is built, so no deep tree exists at any point — not even among the symbols
//!      lalrpop discards during error recovery — and dropping or walking the AST later by
//!      recursion is safe. No iterative dismantling is needed anywhere.
//! - **Recovery.** The grammar uses lalrpop's `!` symbol at item level (skip to the next item
//!   keyword or past the next `;`), statement level (past the next `;`), for a block's value,
//!   a call argument and a `train`/`bench` option, so one run reports many errors. A
//!   recovered expression is [`ast::ExprKind::Error`]; a recovered item or statement is
//!   dropped. An error right after another is taken as its cascade and not shown, as in
//!   yacc; after [`MAX_SYNTAX_ERRORS`] the rest are counted, not shown (a file in another
//!   language would otherwise give one per token).
//! - **Wording.** lalrpop reports the terminals it expected; [`describe`] groups them into
//!   words ("an expression", "an operator", "an item") and adds hints for the usual slips:
//!   a missing `;`, `if` without `else`, a lambda as an operand, an expression statement.
//!   The table is LALR, so an error may be detected after some reductions, when fewer
//!   tokens are still possible: `assert a = b;` says "expected `;`" (with a hint about `==`).

use lalrpop_util::{lalrpop_mod, ErrorRecovery, ParseError};

use super::ast;
use super::build::{self, Ctx};
use super::lexer::{self, Spanned};
use super::token::Tok;
use crate::diag::{codes, Diagnostic};
use crate::source::{FileId, Span};

lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_parens, unused_imports, dead_code)]
    grammar,
    "/gd.rs"
);

/// The deepest delimiters may nest (`(`, `[`, `{`), as in Python's parser.
pub const MAX_NESTING: usize = 256;

/// Syntax errors reported per file; the rest are counted in a note on the last one.
pub const MAX_SYNTAX_ERRORS: usize = 100;

/// An error fewer than this many tokens after the previous one is taken as its cascade.
const SUPPRESS_WITHIN: usize = 3;

type Error<'src> = ParseError<usize, Tok<'src>, Diagnostic>;

/// Parses one file. Diagnostics (lexer and parser) come sorted by position.
pub fn parse(file: FileId, src: &str) -> (ast::Module, Vec<Diagnostic>) {
    let (toks, mut diags) = lexer::lex(file, src);
    let mut ctx = Ctx::new(file, src);
    let result = grammar::ModuleParser::new().parse(&mut ctx, Tokens::new(file, &toks));
    finish(result.err(), &mut ctx, &toks, &mut diags);
    diags.sort_by_key(|d| (d.span().lo, d.span().hi));
    (ast::Module { items: ctx.items }, diags)
}

/// Parses one expression (for the REPL). `None` when it is not one.
pub fn parse_expr(file: FileId, src: &str) -> (Option<ast::Expr>, Vec<Diagnostic>) {
    let (toks, mut diags) = lexer::lex(file, src);
    let mut ctx = Ctx::new(file, src);
    let result = grammar::ExprParser::new().parse(&mut ctx, Tokens::new(file, &toks));
    let (expr, err) = match result {
        Ok(e) if e.depth != build::POISON => (Some(e.node), None),
        Ok(_) => (None, None),
        Err(e) => (None, Some(e)),
    };
    finish(err, &mut ctx, &toks, &mut diags);
    diags.sort_by_key(|d| (d.span().lo, d.span().hi));
    (expr, diags)
}

/// Parses one block statement (for the REPL's `let` lines). `None` when it is not one.
pub fn parse_stmt(file: FileId, src: &str) -> (Option<ast::Stmt>, Vec<Diagnostic>) {
    let (toks, mut diags) = lexer::lex(file, src);
    let mut ctx = Ctx::new(file, src);
    let result = grammar::StmtParser::new().parse(&mut ctx, Tokens::new(file, &toks));
    let (stmt, err) = match result {
        Ok(s) if s.depth != build::POISON => (s.node, None),
        Ok(_) => (None, None),
        Err(e) => (None, Some(e)),
    };
    finish(err, &mut ctx, &toks, &mut diags);
    diags.sort_by_key(|d| (d.span().lo, d.span().hi));
    (stmt, diags)
}

/// Words the recovered errors and a final fatal one, and adds them with the actions' own
/// errors to `diags`: at most [`MAX_SYNTAX_ERRORS`] in all, in source order.
fn finish<'src>(fatal: Option<Error<'src>>, ctx: &mut Ctx<'src>, toks: &[Spanned<'src>], diags: &mut Vec<Diagnostic>) {
    let recovered = std::mem::take(&mut ctx.recovered);
    let fatal = fatal.map(|error| ErrorRecovery { error, dropped_tokens: Vec::new() });
    // As yacc does, an error within a few tokens of the previous one is not reported: it
    // is nearly always a consequence of how recovery resumed (`fn data()`: `data` is
    // unexpected, then recovery takes it for the item `data …` and `(` is unexpected).
    let mut last: Option<usize> = None;
    let all: Vec<_> = recovered
        .into_iter()
        .chain(fatal)
        .filter(|e| {
            let ParseError::UnrecognizedToken { token, .. } = &e.error else { return true };
            let index = toks.partition_point(|t| t.0 < token.0);
            let cascade = last.is_some_and(|prev| index < prev + SUPPRESS_WITHIN);
            last = Some(index);
            !cascade
        })
        .collect();
    let mut syntax: Vec<Diagnostic> = all.into_iter().map(|e| describe(e.error, ctx.file, ctx.src, toks)).collect();
    syntax.append(&mut ctx.diags);
    syntax.sort_by_key(|d| (d.span().lo, d.span().hi));
    let total = syntax.len() + ctx.overflow;
    if total > MAX_SYNTAX_ERRORS {
        syntax.truncate(MAX_SYNTAX_ERRORS);
        if let Some(d) = syntax.last_mut() {
            let hint = d.hint.take().map_or(String::new(), |h| format!("{h}; "));
            d.hint = Some(format!("{hint}{} more syntax errors are not shown", total - MAX_SYNTAX_ERRORS));
        }
    }
    diags.append(&mut syntax);
}

/// The token stream for lalrpop, stopping with E014 where delimiters nest too deeply.
struct Tokens<'a, 'src> {
    toks: std::slice::Iter<'a, Spanned<'src>>,
    /// Open `(`, `[`, `{`.
    depth: usize,
    /// `if`s not yet matched by their `else`.
    ifs: usize,
    file: FileId,
}

impl<'a, 'src> Tokens<'a, 'src> {
    fn new(file: FileId, toks: &'a [Spanned<'src>]) -> Self {
        Tokens { toks: toks.iter(), depth: 0, ifs: 0, file }
    }
}

impl Tokens<'_, '_> {
    fn too_deep(&self, l: usize, r: usize, message: String, label: String) -> Diagnostic {
        Diagnostic::new(codes::TOO_DEEP, message, Span::new(self.file, l, r), label)
            .with_hint("parsing stops here; name the inner parts with `let` bindings")
    }
}

impl<'src> Iterator for Tokens<'_, 'src> {
    /// An error here becomes lalrpop's `ParseError::User`, which ends the parse.
    type Item = Result<Spanned<'src>, Diagnostic>;

    fn next(&mut self) -> Option<Self::Item> {
        let (l, tok, r) = self.toks.next()?.clone();
        match tok {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    let label = format!("this {tok} is nested {} deep", self.depth);
                    return Some(Err(self.too_deep(l, r, format!("delimiters nested more than {MAX_NESTING} deep"), label)));
                }
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => self.depth = self.depth.saturating_sub(1),
            // An `if` waits on the parser's stack for its `else`, even without braces
            // between them: `if if if … c`.
            Tok::If => {
                self.ifs += 1;
                if self.ifs > MAX_NESTING {
                    return Some(Err(self.too_deep(l, r, format!("`if` nested more than {MAX_NESTING} deep"), "this `if`".into())));
                }
            }
            Tok::Else => self.ifs = self.ifs.saturating_sub(1),
            // An `if` still open at the end of an item was an error, already reported.
            Tok::Semi if self.depth == 0 => self.ifs = 0,
            _ if self.depth == 0 && is_item_keyword(&tok) => self.ifs = 0,
            _ => {}
        }
        Some(Ok((l, tok, r)))
    }
}

// ----- wording of lalrpop's errors -----

/// Tokens that can start an expression, as lalrpop names terminals.
const EXPR_START: &[&str] =
    &["Ident", "Int", "Float", "Str", "\"true\"", "\"false\"", "\"(\"", "\"[\"", "\"{\"", "\"if\"", "\"-\"", "\"!\"", "\"|\""];
/// Binary and postfix operators.
const OPERATORS: &[&str] = &[
    "\"|\"", "\"&\"", "\"==\"", "\"!=\"", "\"<\"", "\"<=\"", "\">\"", "\">=\"", "\"+\"", "\"-\"", "\"*\"", "\"/\"",
    "\"@\"", "\"%\"", "\"^\"", "\"(\"", "\"[\"", "\".\"", "\"::\"",
];
const ITEM_START: &[&str] = &[
    "\"use\"", "\"const\"", "\"param\"", "\"data\"", "\"fn\"", "\"train\"", "\"print\"", "\"assert\"", "\"save\"",
    "\"load\"", "\"bench\"",
];

/// What the parser expected, grouped into words.
struct Expected {
    /// Single tokens (`;`) first, then groups ("an expression").
    words: Vec<String>,
    raw: Vec<String>,
    expression: bool,
    item: bool,
}

impl Expected {
    fn new(raw: Vec<String>) -> Expected {
        let has = |t: &str| raw.iter().any(|e| e == t);
        let expression = has("Ident") && has("Int") && has("\"(\"");
        let operator = has("\"+\"") && has("\"*\"");
        let item = has("\"fn\"") && has("\"param\"");
        let mut groups = Vec::new();
        let mut covered: Vec<&str> = Vec::new();
        if expression {
            groups.push("an expression".to_string());
            covered.extend(EXPR_START);
        }
        if operator {
            groups.push("an operator".to_string());
            covered.extend(OPERATORS);
        }
        if item {
            groups.push("an item".to_string());
            covered.extend(ITEM_START);
        }
        let mut words: Vec<String> = raw
            .iter()
            .filter(|t| !covered.contains(&t.as_str()))
            .map(|t| match t.as_str() {
                "Ident" => "a name".to_string(),
                "Int" => "an integer".to_string(),
                "Float" => "a number".to_string(),
                "Str" => "a string".to_string(),
                quoted => format!("`{}`", quoted.trim_matches('"')),
            })
            .collect();
        words.extend(groups);
        Expected { words, raw, expression, item }
    }

    fn has(&self, terminal: &str) -> bool {
        self.raw.iter().any(|t| t.trim_matches('"') == terminal)
    }

    /// "`;`", "`;` or `,`", "`;`, `,` or an operator".
    fn phrase(&self) -> String {
        match self.words.as_slice() {
            [] => "something else".to_string(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        }
    }
}

fn is_item_keyword(t: &Tok) -> bool {
    use Tok::*;
    matches!(t, Use | Const | Param | Data | Fn | Train | Print | Assert | Save | Load | Bench)
}

fn is_keyword(t: &Tok) -> bool {
    use Tok::*;
    matches!(
        t,
        Use | Const | Param | Data | Fn | Let | Mut | For | In | If | Else | Train | Print | Assert | Save | Load | Bench | With
    )
}

/// Turns one lalrpop error into a diagnostic.
fn describe<'src>(error: Error<'src>, file: FileId, src: &str, toks: &[Spanned<'src>]) -> Diagnostic {
    match error {
        ParseError::User { error } => error,
        ParseError::UnrecognizedToken { token: (l, tok, r), expected } => unexpected_token(l, &tok, r, Expected::new(expected), file, src, toks),
        ParseError::ExtraToken { token: (l, tok, r) } => unexpected_token(l, &tok, r, Expected::new(Vec::new()), file, src, toks),
        ParseError::UnrecognizedEof { location, expected } => unexpected_eof(location, Expected::new(expected), file, toks),
        // Only lalrpop's own lexer produces this; ours reports bad characters itself.
        ParseError::InvalidToken { location } => {
            Diagnostic::new(codes::UNEXPECTED_TOKEN, "invalid token", Span::new(file, location, location + 1), "not a token")
        }
    }
}

fn unexpected_token(l: usize, tok: &Tok, r: usize, exp: Expected, file: FileId, src: &str, toks: &[Spanned]) -> Diagnostic {
    let span = Span::new(file, l, r);
    let what = exp.phrase();
    let mut d = Diagnostic::new(codes::UNEXPECTED_TOKEN, format!("expected {what}, found {tok}"), span, format!("expected {what}"));
    let index = toks.partition_point(|t| t.0 < l);
    let prev = index.checked_sub(1).and_then(|i| toks.get(i));
    let after_newline = prev.is_some_and(|p| src.get(p.2..l).is_some_and(|gap| gap.contains('\n')));
    // A `;` is likely missing when the next line, or the next statement or item, has begun.
    let starts_anew = after_newline || matches!(tok, Tok::Let | Tok::For) || is_item_keyword(tok);

    let hint = if exp.has("else") && *tok != Tok::Else {
        Some("`if` always has an `else` in gd: `if c { a } else { b }`".to_string())
    } else if *tok == Tok::Pipe && exp.expression {
        Some("a lambda is a whole expression; as an operand put it in parentheses: `(|x| …)`".to_string())
    } else if exp.has(";") && starts_anew {
        if let Some(p) = prev {
            d = d.with_label(Span::new(file, p.0, p.2), "expected `;` after this");
        }
        Some("items and statements end with `;`".to_string())
    } else if *tok == Tok::Semi && exp.has("{") && current_item(toks, index) == Some(&Tok::Train) {
        Some("`train` always has its option block: `train loss(x, y) { steps = 100 }`".to_string())
    } else if *tok == Tok::Semi && prev.is_some_and(|p| p.1 == Tok::RBrace) {
        Some("no `;` follows a block".to_string())
    } else if *tok == Tok::Semi && exp.has("=") && exp.has("}") {
        Some("a block has no expression statements: bind a value with `let`, and end the block with its value, without `;`".to_string())
    } else if *tok == Tok::Eq && !exp.has("=") && !in_let_pattern(toks, index) {
        Some("to compare, write `==`".to_string())
    } else if is_keyword(tok) && exp.has("Ident") {
        Some(format!("{tok} is a keyword and cannot be used as a name"))
    } else if exp.item && *tok == Tok::Let {
        Some("`let` belongs inside a block; at the top level use `const`, `param` or `data`".to_string())
    } else if exp.item {
        Some("a file is a list of items (`use`, `const`, `param`, `data`, `fn`, `train`, `print`, `assert`, `save`, `load`, `bench`); statements belong inside a block".to_string())
    } else if exp.words == ["`:`"] && matches!(tok, Tok::RParen | Tok::Comma) {
        Some("a function's parameters have types: `x: f64`".to_string())
    } else if exp.words == ["a string"] {
        Some("paths are strings in double quotes, such as `\"params.safetensors\"`".to_string())
    } else {
        None
    };
    if let Some(h) = hint {
        d = d.with_hint(h);
    }
    d
}

fn unexpected_eof(location: usize, exp: Expected, file: FileId, toks: &[Spanned]) -> Diagnostic {
    let what = exp.phrase();
    let at = Span::new(file, location, location);
    let mut d = Diagnostic::new(codes::UNEXPECTED_EOF, format!("expected {what}, found the end of the file"), at, "the file ends here");
    if let Some((l, tok, r)) = innermost_unclosed(toks) {
        d = d.with_label(Span::new(file, *l, *r), format!("this {tok} is not closed"));
    }
    if exp.has("else") {
        d = d.with_hint("`if` always has an `else` in gd: `if c { a } else { b }`");
    }
    d
}

/// The keyword of the item that token `index` is in.
fn current_item<'a, 'src>(toks: &'a [Spanned<'src>], index: usize) -> Option<&'a Tok<'src>> {
    toks[..index.min(toks.len())].iter().rev().map(|t| &t.1).find(|t| is_item_keyword(t))
}

/// Whether token `index` is between `let` and its `=`.
fn in_let_pattern(toks: &[Spanned], index: usize) -> bool {
    for t in toks[..index.min(toks.len())].iter().rev() {
        match t.1 {
            Tok::Let => return true,
            Tok::Eq | Tok::Semi | Tok::LBrace | Tok::RBrace => return false,
            _ => {}
        }
    }
    false
}

/// The innermost delimiter still open at the end of the file.
fn innermost_unclosed<'a, 'src>(toks: &'a [Spanned<'src>]) -> Option<&'a Spanned<'src>> {
    let mut open: Vec<&Spanned> = Vec::new();
    for t in toks {
        match t.1 {
            Tok::LParen | Tok::LBracket | Tok::LBrace => open.push(t),
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                open.pop();
            }
            _ => {}
        }
    }
    open.pop()
}
