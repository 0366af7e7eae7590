//! Tokens, produced by logos.
//!
//! The logos automaton recognises the raw tokens; [`crate::syntax::lexer`] then turns
//! number and string text into values and reports malformed ones as diagnostics.

use logos::Logos;

/// Skips a `/* … */` comment, nesting allowed. The opening `/*` has been matched.
fn block_comment(lex: &mut logos::Lexer<RawTok>) -> logos::FilterResult<(), ()> {
    let rest = lex.remainder().as_bytes();
    let mut depth = 1usize;
    let mut i = 0;
    while i < rest.len() {
        match (rest[i], rest.get(i + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                i += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    lex.bump(i);
                    return logos::FilterResult::Skip;
                }
            }
            _ => i += 1,
        }
    }
    lex.bump(rest.len());
    logos::FilterResult::Error(())
}

#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum RawTok {
    #[token("/*", block_comment)]
    BlockComment,

    #[token("use")] Use,
    #[token("const")] Const,
    #[token("param")] Param,
    #[token("data")] Data,
    #[token("fn")] Fn,
    #[token("let")] Let,
    #[token("mut")] Mut,
    #[token("for")] For,
    #[token("in")] In,
    #[token("if")] If,
    #[token("else")] Else,
    #[token("train")] Train,
    #[token("print")] Print,
    #[token("assert")] Assert,
    #[token("save")] Save,
    #[token("load")] Load,
    #[token("bench")] Bench,
    #[token("with")] With,
    #[token("true")] True,
    #[token("false")] False,

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    #[regex(r"[0-9][0-9_]*")]
    Int,
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9_]*)?")]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9_]*")]
    Float,
    /// A string up to its closing quote; escapes are checked afterwards.
    #[regex(r#""([^"\\\n]|\\[^\n])*""#, allow_greedy = true)]
    Str,
    /// A string that reaches the end of its line or of the file.
    #[regex(r#""([^"\\\n]|\\[^\n])*"#, allow_greedy = true)]
    UnterminatedStr,
    /// `'…'` on one line: not gd, but lexed as the string it was meant to be (and reported),
    /// so that the rest of the line parses as written.
    #[regex(r"'[^'\n]*'")]
    SingleQuotedStr,

    #[token("(")] LParen,
    #[token(")")] RParen,
    #[token("[")] LBracket,
    #[token("]")] RBracket,
    #[token("{")] LBrace,
    #[token("}")] RBrace,
    #[token(",")] Comma,
    #[token(";")] Semi,
    #[token(":")] Colon,
    #[token("::")] ColonColon,
    #[token(".")] Dot,
    #[token("..")] DotDot,
    #[token("=")] Eq,
    #[token("==")] EqEq,
    #[token("!=")] Ne,
    #[token("<")] Lt,
    #[token("<=")] Le,
    #[token(">")] Gt,
    #[token(">=")] Ge,
    #[token("+")] Plus,
    #[token("-")] Minus,
    #[token("*")] Star,
    #[token("/")] Slash,
    #[token("@")] At,
    #[token("%")] Percent,
    #[token("^")] Caret,
    #[token("!")] Bang,
    #[token("&")] Amp,
    #[token("|")] Pipe,
    #[token("->")] Arrow,
    #[token("&&")] AmpAmp,
    #[token("||")] PipePipe,
}

/// A token as the parser sees it: numbers and strings carry their values.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok<'src> {
    Ident(&'src str),
    Int(i64),
    Float(f64),
    Str(String),
    Use, Const, Param, Data, Fn, Let, Mut, For, In, If, Else, Train, Print, Assert, Save, Load,
    Bench, With, True, False,
    LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Semi, Colon, ColonColon, Dot,
    DotDot, Eq, EqEq, Ne, Lt, Le, Gt, Ge, Plus, Minus, Star, Slash, At, Percent, Caret, Bang,
    Amp, Pipe, Arrow,
}

impl std::fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Tok::*;
        let s = match self {
            Ident(s) => return write!(f, "`{s}`"),
            Int(i) => return write!(f, "`{i}`"),
            Float(x) => return write!(f, "`{x:?}`"),
            Str(s) => return write!(f, "{s:?}"),
            Use => "use", Const => "const", Param => "param", Data => "data", Fn => "fn",
            Let => "let", Mut => "mut", For => "for", In => "in", If => "if", Else => "else",
            Train => "train", Print => "print", Assert => "assert", Save => "save",
            Load => "load", Bench => "bench", With => "with", True => "true", False => "false",
            LParen => "(", RParen => ")", LBracket => "[", RBracket => "]", LBrace => "{",
            RBrace => "}", Comma => ",", Semi => ";", Colon => ":", ColonColon => "::",
            Dot => ".", DotDot => "..", Eq => "=", EqEq => "==", Ne => "!=", Lt => "<",
            Le => "<=", Gt => ">", Ge => ">=", Plus => "+", Minus => "-", Star => "*",
            Slash => "/", At => "@", Percent => "%", Caret => "^", Bang => "!", Amp => "&",
            Pipe => "|", Arrow => "->",
        };
        write!(f, "`{s}`")
    }
}
