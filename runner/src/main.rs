//! The `shipgate` binary: parse, run, map to an exit code. Everything else is the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = shipgate::cli::Cli::parse();
    let code = shipgate::cli::run(cli).code();
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
