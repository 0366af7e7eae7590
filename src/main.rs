//! The `gradc` command line: `check`, `run`, `ir` and `repl` (LANGUAGE.md §13).
//!
//! Exit status: 0 success, 1 a user error (diagnostics on stderr), 2 a usage error,
//! 130 interrupted.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gradc", version, about = "A compiler for differentiable programs written in gd")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Jit,
    Interp,
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
        /// Run native code (`jit`) or the reference interpreter (`interp`).
        #[arg(long, value_enum, default_value_t = BackendArg::Jit)]
        backend: BackendArg,
    },
    /// Print the IR graph of each function (docs/ir.md describes the text form).
    Ir {
        /// The .gd file.
        file: PathBuf,
        /// Only the instances of this function (`model` shows `model[B=32]`, …).
        #[arg(long = "fn", value_name = "NAME")]
        function: Option<String>,
        /// The graph as lowered, before simplification.
        #[arg(long)]
        raw: bool,
        /// The graph of the function's gradient (with respect to its first argument).
        #[arg(long, conflicts_with_all = ["jvp", "hessian"])]
        grad: bool,
        /// The graph of its Jacobian-vector product.
        #[arg(long, conflicts_with = "hessian")]
        jvp: bool,
        /// The graph of its Hessian (with respect to its first argument).
        #[arg(long)]
        hessian: bool,
        /// The Cranelift IR the JIT compiles the (simplified) graph to.
        #[arg(long)]
        clif: bool,
    },
    /// An interactive session: items, expressions, `:d` derivatives, `:help` for more.
    Repl {
        /// Seed of the session's random generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Run native code (`jit`) or the reference interpreter (`interp`).
        #[arg(long, value_enum, default_value_t = BackendArg::Jit)]
        backend: BackendArg,
    },
}

/// Keeps freed tensor buffers in the heap for reuse. glibc returns every allocation above
/// 128 KiB to the kernel when it is freed, so a training loop that makes the same few
/// megabytes of intermediates each step pays page faults for all of them every step (about a
/// tenth of P2's step time). `mallopt` is glibc's documented knob for this.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 512 << 20);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
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
        Command::Run { file, seed, quiet, resume, backend, threads } => {
            let Some(checked) = check(&file) else { return ExitCode::from(1) };
            let backend = match backend {
                BackendArg::Jit => gradc::run::Backend::Jit,
                BackendArg::Interp => gradc::run::Backend::Interp,
            };
            let options = gradc::run::RunOptions { seed, quiet, resume, backend, threads };
            let mut stdout = std::io::stdout().lock();
            match gradc::run::run(&checked, &options, &mut stdout) {
                Ok(()) => ExitCode::SUCCESS,
                Err(d) => {
                    let _ = stdout.flush();
                    eprint!("{}", d.render(&checked.sources, std::io::stderr().is_terminal()));
                    let interrupted = d.code == gradc::compiler::diag::codes::INTERRUPTED;
                    ExitCode::from(if interrupted { 130 } else { 1 })
                }
            }
        }
        Command::Repl { seed, backend } => {
            let backend = match backend {
                BackendArg::Jit => gradc::run::Backend::Jit,
                BackendArg::Interp => gradc::run::Backend::Interp,
            };
            // Progress bars only where someone watches them.
            let quiet = !std::io::stderr().is_terminal();
            let options = gradc::run::RunOptions { seed, quiet, resume: None, backend, threads: None };
            ExitCode::from(gradc::repl::main(options))
        }
        Command::Ir { file, function, raw, grad, jvp, hessian, clif } => {
            let Some(checked) = check(&file) else { return ExitCode::from(1) };
            use gradc::compiler::check::hir::Transform;
            let transform = if grad {
                Some(Transform::Grad { wrt: 0 })
            } else if jvp {
                Some(Transform::Jvp)
            } else if hessian {
                Some(Transform::Hessian { wrt: 0 })
            } else {
                None
            };
            ir(&checked, function.as_deref(), raw, transform, clif)
        }
    }
}

/// Prints the graphs of the functions (all, or the instances of `name`), or of a derivative
/// of each.
fn ir(checked: &gradc::compiler::check::Checked, name: Option<&str>, raw: bool, transform: Option<gradc::compiler::check::hir::Transform>, clif: bool) -> ExitCode {
    use gradc::compiler::check::hir::FnId;
    use gradc::compiler::{ir::print, lower, passes::simplify::simplify};
    let program = &checked.program;
    let base = |n: &str| n.split('[').next().unwrap_or(n).to_string();
    let chosen: Vec<usize> = (0..program.fns.len())
        .filter(|&i| name.is_none_or(|n| base(&program.fns[i].name) == n || program.fns[i].name == n))
        .collect();
    if chosen.is_empty() {
        match name {
            Some(n) => eprintln!("error: the program has no function `{n}` (generic functions appear once used)"),
            None => eprintln!("the program has no functions"),
        }
        return ExitCode::from(1);
    }
    let mut out = std::io::stdout().lock();
    for (k, i) in chosen.into_iter().enumerate() {
        let graph = match transform {
            None => lower::lower_fn(program, FnId(i as u32)).map(|g| if raw { g } else { simplify(&g) }),
            Some(t) => lower::transform_fn(program, FnId(i as u32), t),
        };
        let graph = match graph {
            Ok(g) => g,
            // Without `--fn`, a derivative is shown for the functions it applies to.
            Err(d) if name.is_none() && d.code == gradc::compiler::diag::codes::GRAD_NOT_SCALAR => continue,
            Err(d) => {
                eprint!("{}", d.render(&checked.sources, std::io::stderr().is_terminal()));
                return ExitCode::from(1);
            }
        };
        let sep = if k > 0 { "\n" } else { "" };
        let text = if clif { gradc::compiler::codegen::clif(&graph) } else { print::print(&graph) };
        let _ = write!(out, "{sep}{text}");
    }
    ExitCode::SUCCESS
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
