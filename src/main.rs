//! The `orchestrace` command: a thin layer over the library. See `orchestrace --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
