//! A real coffer server for the `--key-source coffer` tests: started from a config file
//! (in-memory storage, a file audit device), initialised and unsealed, with transit mounted and an
//! RSA key `sealing`. Binary: `$COFFER_BIN`, default `target/debug/coffer` of this workspace
//! (build it with `cargo build -p coffer`); a missing binary fails the test, never skips it.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer_sealed::coffer::http::{Base, Transport};

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn coffer_bin() -> PathBuf {
    let bin = std::env::var_os("COFFER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/coffer")
        });
    assert!(
        bin.is_file(),
        "the coffer server binary is missing at {}: run `cargo build -p coffer` or set COFFER_BIN",
        bin.display()
    );
    bin
}

pub fn transport(addr: &str) -> Transport {
    Transport {
        base: Base::parse(addr).unwrap(),
        ca_file: None,
        timeout: Duration::from_secs(30),
    }
}

pub fn api(s: &Server, method: &str, path: &str, body: &str) -> (u16, String) {
    let (st, b) = transport(&s.addr)
        .request(
            method,
            path,
            &[
                ("X-Vault-Token", s.token.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
        .unwrap();
    (st, String::from_utf8_lossy(&b).into_owned())
}

pub fn ok(s: &Server, method: &str, path: &str, body: &str) -> String {
    let (st, b) = api(s, method, path, body);
    assert!((200..300).contains(&st), "{method} {path}: {st} {b}");
    b
}

/// Starts a server from a config file (in-memory storage, a file audit device), initialises and
/// unseals it, mounts transit and creates the RSA key `sealing`; the root token goes to the file
/// `token`.
pub fn start(key_type: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("coffer.hcl");
    std::fs::write(
        &config,
        format!(
            "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = \"true\"\n}}\naudit \"file\" \"main\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
            dir.path().join("audit.log").display()
        ),
    )
    .unwrap();
    let child = Command::new(coffer_bin())
        .args(["server", &format!("-config={}", config.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut s = Server {
        child,
        addr: format!("http://127.0.0.1:{port}"),
        dir,
        token: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while transport(&s.addr)
        .request("GET", "/v1/sys/seal-status", &[], b"")
        .is_err()
    {
        assert!(Instant::now() < deadline, "coffer server did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let init: serde_json::Value = serde_json::from_str(&ok(
        &s,
        "PUT",
        "/v1/sys/init",
        r#"{"secret_shares": 1, "secret_threshold": 1}"#,
    ))
    .unwrap();
    let key = init["keys_base64"][0].as_str().unwrap().to_owned();
    s.token = init["root_token"].as_str().unwrap().to_owned();
    ok(
        &s,
        "PUT",
        "/v1/sys/unseal",
        &serde_json::json!({"key": key}).to_string(),
    );
    ok(
        &s,
        "POST",
        "/v1/sys/mounts/transit",
        r#"{"type": "transit"}"#,
    );
    ok(
        &s,
        "POST",
        "/v1/transit/keys/sealing",
        &format!(r#"{{"type": "{key_type}"}}"#),
    );
    std::fs::write(s.dir.path().join("token"), format!("{}\n", s.token)).unwrap();
    s
}
