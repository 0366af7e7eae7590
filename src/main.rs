//! The `gradc` command line: `check`, `run`, `ir` and `repl` (LANGUAGE.md §13).
//!
//! Exit status: 0 success, 1 a user error (diagnostics on stderr), 2 a usage error,
//! 130 interrupted.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gradc", version, about = "A compiler for differentiable programs written in gd")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check a program: names, types, shapes, derivative operators.
    Check {
        /// The .gd file.
        file: PathBuf,
    },
    /// Check and run a program's statements.
    Run {
        /// The .gd file.
        file: PathBuf,
        /// Seed of the run's random generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// No progress output.
        #[arg(long)]
        quiet: bool,
        /// Continue from a checkpoint of the same program.
        #[arg(long, value_name = "CKPT")]
        resume: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    dispatch(cli)
}

fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check { file } => match check(&file) {
            Some(_) => ExitCode::SUCCESS,
            None => ExitCode::from(1),
        },
        Command::Run { file, .. } => match check(&file) {
            Some(_) => {
                eprintln!("error: `{}` checks, but running programs is not built yet (the interpreter is the next milestone); use `gradc check`", file.display());
                ExitCode::from(1)
            }
            None => ExitCode::from(1),
        },
    }
}

/// Checks a file, printing its diagnostics; `None` on any error.
fn check(file: &std::path::Path) -> Option<gradc::compiler::check::Checked> {
    let checked = match gradc::compiler::check::check_file(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", file.display());
            return None;
        }
    };
    if !checked.is_ok() {
        eprint!("{}", checked.render(std::io::stderr().is_terminal()));
        let n = checked.diags.len();
        eprintln!("error: {n} error{} found in `{}`", if n == 1 { "" } else { "s" }, file.display());
        return None;
    }
    Some(checked)
}
