//! Shared helpers for the integration tests: vector and Python locations.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The compat vector folder (`shared/compat/sealed-secrets`).
pub fn compat() -> PathBuf {
    let p = std::env::var("COFFER_SEALED_COMPAT").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/sealed-secrets")
    });
    assert!(p.join("verify.py").exists(), "compat vectors not found at {} (set COFFER_SEALED_COMPAT)", p.display());
    p
}

/// The test venv's python; fails loudly when the venv or kubesealpy is missing.
pub fn python() -> PathBuf {
    let venv = std::env::var("COFFER_TEST_VENV").unwrap_or_else(|_| "/root/.cache/coffer/venv".into());
    let py = PathBuf::from(&venv).join("bin/python3");
    assert!(py.exists(), "python venv missing at {venv}: create it and pip install -r crates/coffer-sealed/tests/requirements.txt");
    let ok = Command::new(&py).args(["-c", "import kubesealpy, cryptography, yaml"]).status().map(|s| s.success());
    assert_eq!(ok.ok(), Some(true), "kubesealpy missing in {venv}: pip install -r crates/coffer-sealed/tests/requirements.txt");
    py
}

/// Runs tests/py/interop.py with `args`, feeding `stdin`.
pub fn interop(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/interop.py");
    let mut child = Command::new(python())
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    let out = child.wait_with_output().expect("python runs");
    assert!(out.status.success(), "interop.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}
