//! The lexer: logos tokens, then values for numbers and strings, with every malformed
//! token reported as a diagnostic. Lexing never stops at an error: a bad token is dropped
//! (or replaced by a harmless value) so the parser can go on and report more.

use logos::Logos;

use super::token::{RawTok, Tok};
use crate::diag::{codes, Diagnostic};
use crate::source::{FileId, Span};

/// A token with its byte range, the triple lalrpop's external lexers produce.
pub type Spanned<'src> = (usize, Tok<'src>, usize);

pub fn lex(file: FileId, src: &str) -> (Vec<Spanned<'_>>, Vec<Diagnostic>) {
    let mut toks: Vec<Spanned> = Vec::new();
    let mut diags = Vec::new();
    let mut lexer = RawTok::lexer(src);
    while let Some(raw) = lexer.next() {
        let mut range = lexer.span();
        let mut text = lexer.slice();
        // An unterminated string runs to the end of its line and so swallows what closes
        // the statement: `save "p.safetensors;` or `csv("f.csv);`. Those trailing `)`, `]`
        // and `;` are taken as the tokens they look like, so that the missing quote is the
        // only error reported.
        let mut closers = Vec::new();
        if raw == Ok(RawTok::UnterminatedStr) {
            let kept = text.trim_end_matches([')', ']', ';', ' ', '\t', '\r']).len().max(1);
            for (i, c) in text[kept..].char_indices() {
                let at = range.start + kept + i;
                match c {
                    ')' => closers.push((at, Tok::RParen, at + 1)),
                    ']' => closers.push((at, Tok::RBracket, at + 1)),
                    ';' => closers.push((at, Tok::Semi, at + 1)),
                    _ => {}
                }
            }
            range.end = range.start + kept;
            text = &text[..kept];
        }
        let span = Span::new(file, range.start, range.end);
        let tok = match raw {
            Ok(raw) => convert(raw, text, span, &mut diags),
            Err(()) => {
                error_token(text, span, &mut diags);
                None
            }
        };
        if let Some(tok) = tok {
            // `1.` followed by something other than digits is not a number (`1.0` is).
            if tok == Tok::Dot {
                if let Some((_, Tok::Int(_), end)) = toks.last() {
                    if *end == range.start {
                        let lo = toks.last().map_or(range.start, |t| t.0);
                        diags.push(
                            Diagnostic::new(
                                codes::BAD_NUMBER,
                                "a dot in a number needs digits after it",
                                Span::new(file, lo, range.end),
                                "no digits after the dot",
                            )
                            .with_hint(format!("write `{}0`", &src[lo..range.end])),
                        );
                        continue;
                    }
                }
            }
            toks.push((range.start, tok, range.end));
        }
        toks.extend(closers);
    }
    (toks, diags)
}

fn error_token(text: &str, span: Span, diags: &mut Vec<Diagnostic>) {
    if text.starts_with("/*") {
        diags.push(
            Diagnostic::new(codes::UNTERMINATED_COMMENT, "unterminated block comment", Span { hi: span.lo + 2, ..span }, "this comment is never closed")
                .with_hint("block comments nest: every `/*` needs its own `*/`"),
        );
    } else {
        // A run of characters that start no token is one error, not one per character.
        if let Some(last) = diags.last_mut() {
            if last.code == codes::UNKNOWN_CHAR && last.span().hi == span.lo {
                last.labels[0].span.hi = span.hi;
                last.message = "unexpected characters".into();
                last.labels[0].message = "no token starts with these characters".into();
                return;
            }
        }
        let c = text.chars().next().unwrap_or('?');
        let mut d = Diagnostic::new(
            codes::UNKNOWN_CHAR,
            format!("unexpected character {c:?}"),
            span,
            "no token starts with this character",
        );
        if c == '\'' {
            d = d.with_hint("strings are written with double quotes: \"…\"");
        }
        diags.push(d);
    }
}

fn convert<'src>(raw: RawTok, text: &'src str, span: Span, diags: &mut Vec<Diagnostic>) -> Option<Tok<'src>> {
    use RawTok as R;
    Some(match raw {
        R::BlockComment => return None,
        R::Ident => Tok::Ident(text),
        R::Int => {
            let digits: String = text.chars().filter(|&c| c != '_').collect();
            match digits.parse::<i64>() {
                Ok(v) => Tok::Int(v),
                Err(_) => {
                    diags.push(
                        Diagnostic::new(codes::BAD_NUMBER, "integer literal too large", span, "does not fit in `i64`")
                            .with_hint(format!("the largest integer is {}; write a float such as `{digits}.0` for a large real number", i64::MAX)),
                    );
                    Tok::Int(0)
                }
            }
        }
        R::Float => {
            let digits: String = text.chars().filter(|&c| c != '_').collect();
            match digits.parse::<f64>() {
                Ok(v) if v.is_finite() => Tok::Float(v),
                Ok(_) => {
                    diags.push(Diagnostic::new(codes::BAD_NUMBER, "float literal out of range", span, "this is larger than the largest `f64`"));
                    Tok::Float(0.0)
                }
                Err(_) => {
                    diags.push(
                        Diagnostic::new(codes::BAD_NUMBER, "malformed float literal", span, "the exponent has no digits")
                            .with_hint("write the exponent's digits, as in `1e-3`"),
                    );
                    Tok::Float(0.0)
                }
            }
        }
        R::Str => Tok::Str(unescape(&text[1..text.len() - 1], span, diags)),
        R::SingleQuotedStr => {
            let body = &text[1..text.len() - 1];
            diags.push(
                Diagnostic::new(codes::UNKNOWN_CHAR, "strings are written with double quotes", span, "single-quoted string")
                    .with_hint(format!("write \"{body}\"")),
            );
            Tok::Str(body.to_string())
        }
        R::UnterminatedStr => {
            diags.push(
                Diagnostic::new(codes::UNTERMINATED_STRING, "unterminated string", Span { hi: span.lo + 1, ..span }, "this string is never closed")
                    .with_hint("close it with `\"` on the same line"),
            );
            Tok::Str(String::new())
        }
        R::AmpAmp | R::PipePipe => {
            let (tok, single, word) = if raw == R::AmpAmp { (Tok::Amp, "&", "and") } else { (Tok::Pipe, "|", "or") };
            diags.push(
                Diagnostic::new(codes::DOUBLE_LOGIC_OP, format!("gd has no `{single}{single}` operator"), span, "not a gd operator")
                    .with_hint(format!("logical {word} is `{single}`, elementwise on `bool`")),
            );
            tok
        }
        R::Use => Tok::Use, R::Const => Tok::Const, R::Param => Tok::Param, R::Data => Tok::Data,
        R::Fn => Tok::Fn, R::Let => Tok::Let, R::Mut => Tok::Mut, R::For => Tok::For,
        R::In => Tok::In, R::If => Tok::If, R::Else => Tok::Else, R::Train => Tok::Train,
        R::Print => Tok::Print, R::Assert => Tok::Assert, R::Save => Tok::Save,
        R::Load => Tok::Load, R::Bench => Tok::Bench, R::With => Tok::With,
        R::True => Tok::True, R::False => Tok::False,
        R::LParen => Tok::LParen, R::RParen => Tok::RParen, R::LBracket => Tok::LBracket,
        R::RBracket => Tok::RBracket, R::LBrace => Tok::LBrace, R::RBrace => Tok::RBrace,
        R::Comma => Tok::Comma, R::Semi => Tok::Semi, R::Colon => Tok::Colon,
        R::ColonColon => Tok::ColonColon, R::Dot => Tok::Dot, R::DotDot => Tok::DotDot,
        R::Eq => Tok::Eq, R::EqEq => Tok::EqEq, R::Ne => Tok::Ne, R::Lt => Tok::Lt,
        R::Le => Tok::Le, R::Gt => Tok::Gt, R::Ge => Tok::Ge, R::Plus => Tok::Plus,
        R::Minus => Tok::Minus, R::Star => Tok::Star, R::Slash => Tok::Slash, R::At => Tok::At,
        R::Percent => Tok::Percent, R::Caret => Tok::Caret, R::Bang => Tok::Bang,
        R::Amp => Tok::Amp, R::Pipe => Tok::Pipe, R::Arrow => Tok::Arrow,
    })
}

/// Resolves `\"`, `\\`, `\n`, `\t`; any other escape is reported and kept as written.
fn unescape(body: &str, span: Span, diags: &mut Vec<Diagnostic>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((j, other)) => {
                let lo = span.lo as usize + 1 + i;
                let hi = span.lo as usize + 1 + j + other.len_utf8();
                diags.push(
                    Diagnostic::new(codes::BAD_ESCAPE, format!("unknown escape `\\{other}`"), Span::new(span.file, lo, hi), "not an escape gd knows")
                        .with_hint("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`"),
                );
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        let (t, d) = lex(FileId(0), src);
        assert!(d.is_empty(), "{d:?}");
        t.into_iter().map(|t| t.1).collect()
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(toks("0..4"), vec![Tok::Int(0), Tok::DotDot, Tok::Int(4)]);
        assert_eq!(toks("1_000 2.5E+4 1e-3 3.0"), vec![Tok::Int(1000), Tok::Float(25000.0), Tok::Float(1e-3), Tok::Float(3.0)]);
        assert_eq!(toks("x.T"), vec![Tok::Ident("x"), Tok::Dot, Tok::Ident("T")]);
    }

    #[test]
    fn comments_nest() {
        assert_eq!(toks("a /* b /* c */ d */ e // f\ng"), vec![Tok::Ident("a"), Tok::Ident("e"), Tok::Ident("g")]);
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(toks(r#""a\"b\\c\n""#), vec![Tok::Str("a\"b\\c\n".into())]);
    }

    #[test]
    fn errors_are_reported_and_lexing_goes_on() {
        let (t, d) = lex(FileId(0), "a && b 1. $ \"x");
        let codes: Vec<_> = d.iter().map(|d| d.code.0).collect();
        assert_eq!(codes, vec!["E006", "E005", "E001", "E002"]);
        assert_eq!(t[0].1, Tok::Ident("a"));
        assert_eq!(t[1].1, Tok::Amp);
    }

    #[test]
    fn a_malformed_string_is_one_error_and_the_line_still_lexes() {
        let (t, d) = lex(FileId(0), "csv('a.csv', b)");
        assert_eq!(d.iter().map(|d| d.code.0).collect::<Vec<_>>(), vec!["E001"]);
        assert_eq!(t.iter().map(|t| t.1.clone()).collect::<Vec<_>>(), vec![Tok::Ident("csv"), Tok::LParen, Tok::Str("a.csv".into()), Tok::Comma, Tok::Ident("b"), Tok::RParen]);
        // The closers an unterminated string swallowed are given back as tokens.
        let (t, d) = lex(FileId(0), "f(\"a.csv);\nx");
        assert_eq!(d.iter().map(|d| d.code.0).collect::<Vec<_>>(), vec!["E002"]);
        assert_eq!(t.iter().map(|t| t.1.clone()).collect::<Vec<_>>(), vec![Tok::Ident("f"), Tok::LParen, Tok::Str(String::new()), Tok::RParen, Tok::Semi, Tok::Ident("x")]);
    }
}
