//! Running the crate's `coffer-sops` binary in an isolated directory.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use age::secrecy::ExposeSecret;

/// A scratch directory with its own HOME and age identities.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub ids: Vec<(String, String)>, // (secret key, recipient)
}

pub struct Out {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Env {
    pub fn new(n_ids: usize) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let ids = (0..n_ids)
            .map(|_| {
                let id = age::x25519::Identity::generate();
                (
                    id.to_string().expose_secret().to_owned(),
                    id.to_public().to_string(),
                )
            })
            .collect();
        Env { dir, ids }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Writes a key file holding the identities with these indexes.
    pub fn key_file(&self, which: &[usize]) -> PathBuf {
        let text: String = which
            .iter()
            .map(|i| format!("{}\n", self.ids[*i].0))
            .collect();
        self.write(&format!("keys-{which:?}.txt"), text.as_bytes())
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_coffer-sops"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_RECIPIENTS")
            .env_remove("SOPS_CONFIG")
            .env_remove("EDITOR")
            .env_remove("SOPS_EDITOR");
        c
    }

    /// Runs with identities `keys` available through SOPS_AGE_KEY_FILE.
    pub fn run(&self, args: &[&str], keys: &[usize]) -> Out {
        let mut c = self.cmd(args);
        if !keys.is_empty() {
            c.env("SOPS_AGE_KEY_FILE", self.key_file(keys));
        }
        run_cmd(c, None)
    }
}

pub fn run_cmd(mut c: Command, stdin: Option<&[u8]>) -> Out {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let (Some(mut s), Some(data)) = (child.stdin.take(), stdin) {
        s.write_all(data).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
