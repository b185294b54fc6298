//! The `hc_vault` master key against a live coffer server (its transit
//! engine), started from the workspace's `coffer` binary in dev mode:
//! `$COFFER_BIN`, else `target/debug/coffer` next to this crate's binary
//! (build it with `cargo build -p coffer`).

#[path = "common/cli.rs"]
mod cli;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli::Env;
use coffer_sops::http;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn coffer_bin() -> PathBuf {
    let bin = std::env::var_os("COFFER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_BIN_EXE_coffer-sops")).with_file_name("coffer")
        });
    assert!(
        bin.is_file(),
        "the coffer server binary is missing at {}: run `cargo build -p coffer` or set COFFER_BIN",
        bin.display()
    );
    bin
}

fn api(s: &Server, method: &str, path: &str, body: &str) -> (u16, String) {
    let url = format!("{}{path}", s.addr);
    let (st, b) = http::request(
        method,
        &url,
        &[
            ("X-Vault-Token", "root"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    (st, String::from_utf8_lossy(&b).into_owned())
}

fn start() -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(coffer_bin())
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let s = Server {
        child,
        addr: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = http::request("GET", &format!("{}/v1/sys/health", s.addr), &[], b"") {
            break;
        }
        assert!(Instant::now() < deadline, "coffer dev server did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (st, b) = api(
        &s,
        "POST",
        "/v1/sys/mounts/transit",
        r#"{"type": "transit"}"#,
    );
    assert!((200..300).contains(&st), "enable transit: {st} {b}");
    let (st, b) = api(&s, "POST", "/v1/transit/keys/sops", "{}");
    assert!((200..300).contains(&st), "create key: {st} {b}");
    s
}

#[test]
fn transit_against_coffer_server() {
    let s = start();
    let env = Env::new(0);
    let uri = format!("{}/v1/transit/keys/sops", s.addr);
    env.write("a.yaml", b"db:\n    password: hunter2\n");
    let mut c = env.cmd(&["encrypt", "-i", "--hc-vault-transit", &uri, "a.yaml"]);
    c.env("VAULT_TOKEN", "root");
    let o = cli::run_cmd(c, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = String::from_utf8(env.read("a.yaml")).unwrap();
    assert!(text.contains("enc: vault:v1:"), "{text}");
    let mut c = env.cmd(&["decrypt", "a.yaml"]);
    c.env("VAULT_TOKEN", "root");
    let o = cli::run_cmd(c, None);
    assert_eq!(
        (o.code, o.text().as_str()),
        (0, "db:\n    password: hunter2\n"),
        "{}",
        o.stderr
    );
    let mut c = env.cmd(&["decrypt", "a.yaml"]);
    c.env("VAULT_TOKEN", "wrong");
    assert_eq!(cli::run_cmd(c, None).code, 128);
}
