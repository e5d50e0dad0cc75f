//! The `querypad` binary: the command line is the only place `anyhow` appears; everything
//! below returns typed errors. Failures print one line and exit non-zero.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("querypad: {e:#}");
            ExitCode::from(1)
        }
    }
}
