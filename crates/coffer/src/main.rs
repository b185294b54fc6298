//! The `coffer` binary: a thin dispatcher. Invoked as `sops` or `kubeseal`
//! (a symlink), it behaves as that tool; otherwise the first argument picks
//! the subcommand.
#![forbid(unsafe_code)]

mod server_cmd;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let program = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|a| a.to_str())
        .unwrap_or("coffer")
        .to_owned();
    match program.as_str() {
        "sops" => return coffer_sops::cli::main(args),
        "kubeseal" => return coffer_sealed::cli::main(args),
        _ => {}
    }
    let rest: Vec<OsString> = args.iter().skip(1).cloned().collect();
    match rest.first().and_then(|a| a.to_str()) {
        Some("sops") => coffer_sops::cli::main(rest),
        Some("seal") => coffer_sealed::cli::main(rest),
        Some("controller") => coffer_sealed::controller::cli::main(rest),
        _ => server_cmd::main(args),
    }
}
