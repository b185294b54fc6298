//! The golden vector files are exactly what their independent generator scripts print
//! (`tests/vectors/*.py`: a table-based Shamir in pure Python, and AES-GCM from
//! pyca/cryptography). The Rust side checks them in `src/shamir/tests.rs` and
//! `src/keyring/tests.rs`; this test proves the files were not edited by hand.
//! Needs the test venv (`$COFFER_TEST_VENV`, default `/root/.cache/coffer/venv`) with
//! `tests/requirements.txt` installed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    let venv = std::env::var_os("COFFER_TEST_VENV")
        .map_or_else(|| PathBuf::from("/root/.cache/coffer/venv"), PathBuf::from);
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} not found: create the test venv (the repository's test command does) or set COFFER_TEST_VENV",
        python.display()
    );
    python
}

fn regenerate(script: &str, golden: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let out = Command::new(python())
        .arg(dir.join(script))
        .output()
        .expect("run generator");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read_to_string(dir.join(golden)).expect("read golden file");
    assert!(
        String::from_utf8_lossy(&out.stdout) == want,
        "{golden} differs from what {script} prints; regenerate it with the script"
    );
}

#[test]
fn shamir_vectors_match_their_generator() {
    regenerate("shamir_vectors.py", "shamir.json");
}

#[test]
fn barrier_vectors_match_their_generator() {
    regenerate("barrier_vectors.py", "barrier.json");
}
