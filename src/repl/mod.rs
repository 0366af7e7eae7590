//! `gradc repl` (LANGUAGE.md §12): items, block statements and expressions at a prompt, and
//! the commands `:d`, `:taylor`, `:ir`, `:clif`, `:type`, `:load`, `:help`, `:quit`.
//!
//! - `session.rs`: the session as a growing gd program; each line is checked and run by the
//!   ordinary front end and runner.
//! - `line.rs`: what kind a line is, and its parts, parsed in place.
//! - `build.rs`: the items and blocks a line is checked as, built around its parts.
//! - `show.rs`: a derivative's IR graph printed back as gd source.
//!
//! On a terminal, lines are read with rustyline (editing, history; Ctrl-C cancels the line,
//! Ctrl-D ends the session). Otherwise lines are read plainly from stdin, with no prompt, so
//! that a script can pipe a session in. A line that leaves a bracket open continues on the
//! next. Values go to stdout, diagnostics to stderr; no line ends the session but `:quit`.
//!
//! Compiled kernels live as long as the line that compiled them: each line's runner owns its
//! kernel cache, and a kernel frees its machine code when dropped (`codegen::jit`), so a
//! long session runs in bounded memory (tests/repl.rs measures 1,000 evaluations).

mod build;
mod line;
mod session;
mod show;

use std::io::{BufRead, IsTerminal, Write};

use crate::run::RunOptions;
use session::{Flow, Session};

pub const HELP: &str = "\
Type items (fn, const, param, data, use, train, print, …), block statements (let, x = …,
for) and expressions; an expression's value is printed. `where x = 2, y = 3` after an
expression binds names for that line. Items and lets stay for the rest of the session; a
declaration typed again replaces the earlier one.

  :d EXPR [wrt VAR] [where …]              the derivative, simplified, as gd source
  :taylor EXPR at VAR = POINT order K      the Taylor coefficients c0 … cK
  :type EXPR [where …]                     the expression's type (a function's declaration)
  :ir FN                                   the IR graph of a function
  :clif FN                                 its Cranelift IR
  :load PATH                               a file's items, as if typed (statements run)
  :help                                    this text
  :quit                                    leave (also Ctrl-D)
";

/// Runs the REPL until `:quit` or the end of input; the exit status.
pub fn main(options: RunOptions) -> u8 {
    // The checker recurses; give it the stack `gradc check` runs it on.
    let worker = std::thread::Builder::new()
        .name("gradc-repl".into())
        .stack_size(gradc_compiler::check::FRONT_END_STACK)
        .spawn(move || repl(options));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(e) => {
            eprintln!("error: cannot start the REPL's thread: {e}");
            1
        }
    }
}

fn repl(options: RunOptions) -> u8 {
    let mut session = Session::new(options);
    if std::io::stdin().is_terminal() {
        match rustyline::DefaultEditor::new() {
            Ok(editor) => return interactive(editor, &mut session),
            Err(e) => eprintln!("warning: no line editing ({e}); reading lines plainly"),
        }
    }
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let mut pending = String::new();
    for l in stdin.lock().lines() {
        let Ok(l) = l else { break };
        pending.push_str(&l);
        if line::unfinished(&pending) {
            pending.push('\n');
            continue;
        }
        let text = std::mem::take(&mut pending);
        if session.line(&text, &mut out) == Flow::Quit {
            return 0;
        }
    }
    if !pending.trim().is_empty() {
        session.line(&pending, &mut out);
    }
    0
}

fn interactive(mut editor: rustyline::DefaultEditor, session: &mut Session) -> u8 {
    use rustyline::error::ReadlineError;
    // Ctrl-C while a line runs: a `train` stops with E097, anything else finishes; the
    // session goes on either way. At the prompt, rustyline reads Ctrl-C as a key.
    crate::run::install_interrupt_handler();
    println!("gradc repl: `:help` for commands, `:quit` or Ctrl-D to leave");
    let mut out = std::io::stdout();
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { "gd> " } else { "..> " };
        match editor.readline(prompt) {
            Ok(l) => {
                pending.push_str(&l);
                if line::unfinished(&pending) {
                    pending.push('\n');
                    continue;
                }
                let text = std::mem::take(&mut pending);
                let _ = editor.add_history_entry(text.as_str());
                crate::run::clear_interrupt();
                if session.line(&text, &mut out) == Flow::Quit {
                    return 0;
                }
                let _ = out.flush();
            }
            // Ctrl-C: drop the line being typed (and any unfinished one before it).
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => return 0,
            Err(e) => {
                eprintln!("error: cannot read the line: {e}");
                return 1;
            }
        }
    }
}
