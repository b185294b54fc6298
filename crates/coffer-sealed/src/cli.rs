//! `coffer seal ...` and the binary invoked as `kubeseal`.
use std::ffi::OsString;
use std::process::ExitCode;

/// Runs the kubeseal CLI; `args[0]` is the program name (`kubeseal`).
pub fn main(_args: Vec<OsString>) -> ExitCode {
    ExitCode::from(1)
}
