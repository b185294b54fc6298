//! Stand-alone `sops`-compatible binary of this crate (used by its tests;
//! the `coffer` binary offers the same as `coffer sops` and as argv0 `sops`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    coffer_sops::cli::main(std::env::args_os().collect())
}
