//! `coffer seal ...` and the binary invoked as `kubeseal`: every kubeseal flag (spec §6.2), each
//! also settable as `SEALED_SECRETS_<FLAG>` (the command line wins).
//!
//! Beyond kubeseal: `--controller-url URL` (env `SEALED_SECRETS_CONTROLLER_URL`) names the
//! controller's HTTP API directly; it is used for `--fetch-cert`, `--validate` and
//! `--re-encrypt` instead of the Kubernetes API-server service proxy, which coffer does not
//! drive yet. When `--cert` is an `http(s)://…/v1/cert.pem` URL its base is used the same way.

mod args;
mod kubeconfig;
mod modes;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Parser;

pub use args::Args;

/// Standard streams, injectable for tests.
pub struct Io<'a> {
    /// Input (Secrets or SealedSecrets when no `-f`).
    pub stdin: &'a mut dyn Read,
    /// Output when no `-w`.
    pub stdout: &'a mut dyn Write,
    /// Errors.
    pub stderr: &'a mut dyn Write,
}

/// Runs the kubeseal CLI; `args[0]` is the program name (`kubeseal`).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let (mut i, mut o, mut e) = (
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        std::io::stderr().lock(),
    );
    ExitCode::from(run(
        args,
        &env,
        Io {
            stdin: &mut i,
            stdout: &mut o,
            stderr: &mut e,
        },
    ))
}

/// Runs the CLI with explicit environment and streams; returns the exit code.
pub fn run(args: Vec<OsString>, env: &dyn Fn(&str) -> Option<String>, io: Io<'_>) -> u8 {
    let args = args::with_env(args, env);
    let parsed = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                io.stderr.write_all(text.as_bytes())
            } else {
                io.stdout.write_all(text.as_bytes())
            };
            return code;
        }
    };
    match modes::dispatch(&parsed, env, io.stdin, io.stdout) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(io.stderr, "error: {e}");
            1
        }
    }
}
