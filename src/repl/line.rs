//! Reading one REPL line: what kind it is (items, a block statement, an expression, a
//! command), and its parts.
//!
//! The parts are parsed by the ordinary parser, each in place: the line is parsed with
//! everything outside the part replaced by spaces, so every span is a position in the line
//! as typed and diagnostics point there. `where`, `wrt`, `at` and `order` are found among
//! the line's tokens at bracket depth 0; they are not keywords, so a variable may still be
//! called `at`, except where the command's own syntax takes it.

use std::ops::Range;

use gradc_compiler::diag::{codes, Diagnostic};
use gradc_compiler::source::{FileId, Span};
use gradc_compiler::syntax::lexer::{self, Spanned};
use gradc_compiler::syntax::token::Tok;
use gradc_compiler::syntax::{ast, parser};

/// `name = value` after `where`.
pub struct Binding {
    pub name: ast::Ident,
    pub value: ast::Expr,
}

pub enum Command {
    Quit,
    Help,
    Type { expr: ast::Expr, bindings: Vec<Binding> },
    Derivative { expr: ast::Expr, wrt: Option<ast::Ident>, bindings: Vec<Binding> },
    Taylor { expr: ast::Expr, var: ast::Ident, at: ast::Expr, order: (i64, Span), bindings: Vec<Binding> },
    Ir { name: String, clif: bool },
    Load { path: String, span: Span },
}

pub enum Line {
    /// Only whitespace and comments.
    Empty,
    /// Items (LANGUAGE.md §4), parsed as a file.
    Items,
    /// A block statement: `let`, an assignment, `for`.
    Stmt,
    Expr { expr: ast::Expr, bindings: Vec<Binding> },
    Command(Command),
    Bad(Box<Diagnostic>),
}

/// The commands, for `:help` and for the hint of an unknown one.
pub const COMMANDS: [&str; 8] = [":d", ":taylor", ":ir", ":clif", ":type", ":load", ":help", ":quit"];

fn bad(message: impl Into<String>, span: Span, label: &str, hint: impl Into<String>) -> Line {
    Line::Bad(Box::new(Diagnostic::new(codes::REPL_COMMAND, message, span, label).with_hint(hint)))
}

/// The line with a `;` added where an item or statement lacks its last one (a slip the
/// prompt forgives: it is the end of the line, so nothing else can follow).
pub fn with_semicolon(text: &str) -> String {
    let (toks, _) = lexer::lex(FileId(0), text);
    let (Some(first), Some(last)) = (toks.first(), toks.last()) else { return text.to_string() };
    let needs = match first.1 {
        Tok::Use | Tok::Const | Tok::Param | Tok::Data | Tok::Print | Tok::Assert | Tok::Save | Tok::Load | Tok::Let => last.1 != Tok::Semi,
        Tok::Fn | Tok::Bench => !matches!(last.1, Tok::Semi | Tok::RBrace),
        Tok::Ident(_) => matches!(toks.get(1), Some((_, Tok::Eq, _))) && last.1 != Tok::Semi,
        _ => false,
    };
    if needs {
        format!("{};", text.trim_end())
    } else {
        text.to_string()
    }
}

/// Whether the line leaves a bracket open (the prompt then reads another line).
pub fn unfinished(text: &str) -> bool {
    let (toks, diags) = lexer::lex(FileId(0), text);
    let depth: i64 = toks.iter().map(|t| match t.1 {
        Tok::LParen | Tok::LBracket | Tok::LBrace => 1,
        Tok::RParen | Tok::RBracket | Tok::RBrace => -1,
        _ => 0,
    }).sum();
    depth > 0 && diags.is_empty()
}

pub fn classify(file: FileId, text: &str) -> Line {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix(':') {
        let start = text.len() - rest.len();
        return command(file, text, start);
    }
    let (toks, _) = lexer::lex(file, text);
    let Some(first) = toks.first() else { return Line::Empty };
    match first.1 {
        Tok::Use | Tok::Const | Tok::Param | Tok::Data | Tok::Fn | Tok::Train | Tok::Print | Tok::Assert | Tok::Save | Tok::Load | Tok::Bench => Line::Items,
        Tok::Let | Tok::For => Line::Stmt,
        Tok::Ident(_) if matches!(toks.get(1), Some((_, Tok::Eq, _))) => Line::Stmt,
        _ => match expr_with_where(file, text, &toks, 0..text.len()) {
            Ok((expr, bindings)) => Line::Expr { expr, bindings },
            Err(d) => Line::Bad(d),
        },
    }
}

/// `:name rest`, with `start` just after the colon.
fn command(file: FileId, text: &str, start: usize) -> Line {
    let name_len = text[start..].find(char::is_whitespace).unwrap_or(text.len() - start);
    let name = &text[start..start + name_len];
    let rest = start + name_len..text.len();
    let name_span = Span::new(file, start - 1, start + name_len);
    let arg = text[rest.clone()].trim();
    let arg_lo = rest.start + text[rest.clone()].find(|c: char| !c.is_whitespace()).unwrap_or(0);
    let arg_span = Span::new(file, arg_lo, arg_lo + arg.len());
    let (toks, _) = lexer::lex(file, text);
    let usage = |u: &str| bad(format!("`:{name}` needs {u}"), name_span.to(Span::new(file, rest.end, rest.end)), "incomplete", format!("write `:{name} {u}`"));
    let cmd = match name {
        "q" | "quit" | "exit" => Command::Quit,
        "h" | "help" | "?" => Command::Help,
        "load" | "l" if arg.is_empty() => return usage("PATH"),
        "load" | "l" => Command::Load { path: arg.to_string(), span: arg_span },
        "ir" | "clif" => {
            let ok = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !ok {
                return usage("FN (a function's name)");
            }
            Command::Ir { name: arg.to_string(), clif: name == "clif" }
        }
        "type" | "t" => match expr_with_where(file, text, &toks, rest) {
            Ok((expr, bindings)) => Command::Type { expr, bindings },
            Err(d) => return Line::Bad(d),
        },
        "d" => {
            let (main, bindings) = match split_where(file, text, &toks, rest) {
                Ok(x) => x,
                Err(d) => return Line::Bad(d),
            };
            // `… wrt v` at the end of the expression part.
            let inside: Vec<&Spanned> = toks.iter().filter(|t| t.0 >= main.start && t.2 <= main.end).collect();
            let (main, wrt) = match inside[..] {
                [.., (lo, Tok::Ident("wrt"), _), (l, Tok::Ident(v), r)] if depth_at(&toks, *lo) == 0 => (main.start..*lo, Some(ast::Ident { name: v.to_string(), span: Span::new(file, *l, *r) })),
                _ => (main, None),
            };
            match parse_part(file, text, main) {
                Ok(expr) => Command::Derivative { expr, wrt, bindings },
                Err(d) => return Line::Bad(d),
            }
        }
        "taylor" => match taylor(file, text, &toks, rest) {
            Ok(c) => c,
            Err(d) => return Line::Bad(d),
        },
        "" => return bad("a `:` with no command", name_span, "no command name", format!("the commands are {}", COMMANDS.join(", "))),
        _ => {
            let close = COMMANDS.iter().map(|c| (distance(&c[1..], name), c)).filter(|(d, _)| *d <= 2).min().map(|(_, c)| c);
            let hint = match close {
                Some(c) => format!("did you mean `{c}`? The commands are {} (`:help` explains them)", COMMANDS.join(", ")),
                None => format!("the commands are {} (`:help` explains them)", COMMANDS.join(", ")),
            };
            return bad(format!("unknown command `:{name}`"), name_span, "not a REPL command", hint);
        }
    };
    Line::Command(cmd)
}

/// `:taylor e at t = t0 order K [where …]`.
fn taylor(file: FileId, text: &str, toks: &[Spanned], rest: Range<usize>) -> Result<Command, Box<Diagnostic>> {
    let (main, bindings) = split_where(file, text, toks, rest.clone())?;
    let usage = || Box::new(Diagnostic::new(codes::REPL_COMMAND, "`:taylor` needs `EXPR at VAR = POINT order K`", Span::new(file, rest.start, rest.end), "here").with_hint("e.g. `:taylor exp(sin(t)) at t = 0 order 5`"));
    let inside: Vec<&Spanned> = toks.iter().filter(|t| t.0 >= main.start && t.2 <= main.end).collect();
    let n = inside.len();
    // `order K` last; `at VAR =` the last such at depth 0 before it.
    let (order, order_span, order_lo) = match inside[..] {
        [.., (lo, Tok::Ident("order"), _), (l, Tok::Int(k), r)] => (*k, Span::new(file, *l, *r), *lo),
        _ => return Err(usage()),
    };
    let at = (0..n.saturating_sub(2)).rev().find(|&i| matches!(inside[i].1, Tok::Ident("at")) && matches!(inside.get(i + 1), Some((_, Tok::Ident(_), _))) && matches!(inside.get(i + 2), Some((_, Tok::Eq, _))) && depth_at(toks, inside[i].0) == 0);
    let Some(i) = at else { return Err(usage()) };
    let Tok::Ident(v) = inside[i + 1].1 else { return Err(usage()) };
    let var = ast::Ident { name: v.to_string(), span: Span::new(file, inside[i + 1].0, inside[i + 1].2) };
    let expr = parse_part(file, text, main.start..inside[i].0)?;
    let point = parse_part(file, text, inside[i + 2].2..order_lo)?;
    if order < 0 {
        return Err(Box::new(Diagnostic::new(codes::BAD_ORDER, "the order of a Taylor expansion is a non-negative integer", order_span, "this order")));
    }
    Ok(Command::Taylor { expr, var, at: point, order: (order, order_span), bindings })
}

/// Bracket depth just before the token at byte `pos`.
fn depth_at(toks: &[Spanned], pos: usize) -> i64 {
    toks.iter().take_while(|t| t.0 < pos).map(|t| match t.1 {
        Tok::LParen | Tok::LBracket | Tok::LBrace => 1,
        Tok::RParen | Tok::RBracket | Tok::RBrace => -1,
        _ => 0,
    }).sum()
}

fn expr_with_where(file: FileId, text: &str, toks: &[Spanned], range: Range<usize>) -> Result<(ast::Expr, Vec<Binding>), Box<Diagnostic>> {
    let (main, bindings) = split_where(file, text, toks, range)?;
    Ok((parse_part(file, text, main)?, bindings))
}

/// The part before a depth-0 `where`, and the bindings after it.
fn split_where(file: FileId, text: &str, toks: &[Spanned], range: Range<usize>) -> Result<(Range<usize>, Vec<Binding>), Box<Diagnostic>> {
    let inside: Vec<&Spanned> = toks.iter().filter(|t| t.0 >= range.start && t.2 <= range.end).collect();
    let Some(w) = inside.iter().position(|t| matches!(t.1, Tok::Ident("where")) && depth_at(toks, t.0) == 0) else {
        return Ok((range, Vec::new()));
    };
    let main = range.start..inside[w].0;
    let mut bindings = Vec::new();
    // Split at depth-0 commas: `x = 2, y = [1, 2]`.
    let mut pieces: Vec<Vec<&Spanned>> = vec![Vec::new()];
    let base = depth_at(toks, inside[w].0);
    for t in &inside[w + 1..] {
        if t.1 == Tok::Comma && depth_at(toks, t.0) == base {
            pieces.push(Vec::new());
        } else {
            pieces.last_mut().expect("one piece at least").push(t);
        }
    }
    let where_span = Span::new(file, inside[w].0, inside[w].2);
    for piece in pieces {
        match piece[..] {
            [] => {}
            [(l, Tok::Ident(name), r), (_, Tok::Eq, eq_hi), ref value @ ..] if !value.is_empty() => {
                let hi = value.last().map_or(*eq_hi, |t| t.2);
                let value = parse_part(file, text, *eq_hi..hi)?;
                bindings.push(Binding { name: ast::Ident { name: name.to_string(), span: Span::new(file, *l, *r) }, value });
            }
            _ => {
                let span = Span::new(file, piece[0].0, piece[piece.len() - 1].2);
                return Err(Box::new(Diagnostic::new(codes::REPL_COMMAND, "a `where` binding is `name = value`", span, "not `name = value`").with_label(where_span, "bindings start here").with_hint("separate bindings with commas: `where x = 2, y = 3`")));
            }
        }
    }
    if bindings.is_empty() {
        return Err(Box::new(Diagnostic::new(codes::REPL_COMMAND, "`where` without bindings", where_span, "nothing follows").with_hint("write `where x = 2, y = 3`")));
    }
    Ok((main, bindings))
}

/// Parses `text[range]` as one expression, in place.
fn parse_part(file: FileId, text: &str, range: Range<usize>) -> Result<ast::Expr, Box<Diagnostic>> {
    let blanked: String = text.char_indices().map(|(i, c)| if range.contains(&i) { c.to_string() } else { " ".repeat(c.len_utf8()) }).collect();
    if blanked.trim().is_empty() {
        let at = Span::new(file, range.start, range.end.max(range.start));
        return Err(Box::new(Diagnostic::new(codes::REPL_COMMAND, "expected an expression", at, "an expression goes here").with_hint("`:help` shows each command's form")));
    }
    let (expr, diags) = parser::parse_expr(file, &blanked);
    match (expr, diags.into_iter().next()) {
        (Some(e), None) => Ok(e),
        (_, Some(d)) => Err(Box::new(d)),
        (None, None) => Err(Box::new(Diagnostic::new(codes::REPL_COMMAND, "expected an expression", Span::new(file, range.start, range.end), "not an expression"))),
    }
}

/// Edit distance (insertions, deletions, substitutions), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
