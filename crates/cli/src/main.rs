//! The command line: arguments are parsed and validated into a command, which then runs
//! against the library and renders to stdout. Errors become one line on stderr and an exit
//! code: 0 all tools succeeded, 1 some failed or were skipped, 2 invalid input or
//! usage, 3 a trace source unreachable or without the trace, 128 + the signal's number when
//! interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
//!
//! What it prints of text it does not control (plans, traces, library errors) goes through
//! [`sanitize`]: no terminal escape sequence and no credential in a URL reaches the terminal.

mod alloc;
mod args;
mod inspect_cmd;
mod json;
mod output;
mod plan_cmd;
mod run_cmd;
mod sanitize;
mod serve_cmd;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit codes.
pub(crate) mod code {
    pub(crate) const OK: u8 = 0;
    pub(crate) const TOOLS_FAILED: u8 = 1;
    pub(crate) const INVALID: u8 = 2;
    pub(crate) const SOURCE: u8 = 3;
    /// A run cancelled by Ctrl-C (SIGINT); other signals give 128 + their number.
    pub(crate) const INTERRUPTED: u8 = 130;
}

/// An error that ends the command: its one-line message and exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub(crate) fn invalid(message: impl std::fmt::Display) -> Self {
        Failure {
            code: code::INVALID,
            message: message.to_string(),
        }
    }

    pub(crate) fn source(message: impl std::fmt::Display) -> Self {
        Failure {
            code: code::SOURCE,
            message: message.to_string(),
        }
    }
}

impl From<orchestrace::PlanError> for Failure {
    fn from(e: orchestrace::PlanError) -> Self {
        Failure::invalid(e)
    }
}

/// A reader that stopped reading (`| head`) is not an error; anything else writing to stdout is.
pub(crate) fn ignore_broken_pipe(e: std::io::Error) -> Result<(), Failure> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(Failure::invalid(format!("cannot write to stdout: {e}")))
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                code::INVALID
            } else {
                code::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // A run and an inspection build one large model after another on different threads; the
    // server keeps the allocator's defaults for its concurrent requests.
    if !matches!(cli.command, Command::Serve(_)) {
        alloc::one_arena();
    }
    let result = match cli.command {
        Command::Plan(a) => plan_cmd::plan(a),
        Command::Run(a) => run_cmd::run(a),
        Command::Inspect(a) => inspect_cmd::inspect(a),
        Command::Serve(a) => serve_cmd::serve(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {}", sanitize::message(&f.message));
            ExitCode::from(f.code)
        }
    }
}
