//! The `mytriage` binary: parse, run, map the outcome to an exit code. Nothing else.

use std::process::ExitCode;

use mytriage::cli::Cli;
use mytriage::error::{is_broken_pipe, one_line};

fn main() -> ExitCode {
    let cli = Cli::parse_mysql_style();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mytriage: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(mytriage::run(cli)) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mytriage: {}", one_line(&error));
            ExitCode::from(2)
        }
    }
}
