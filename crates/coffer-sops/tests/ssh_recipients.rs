//! `ssh-ed25519` age recipients (our own implementation of the age stanza)
//! checked both ways against pyrage (rage): files coffer encrypts to an SSH
//! key decrypt with pyrage, and age data pyrage encrypts to the key decrypts
//! with coffer. Needs `ssh-keygen` and the test venv.

#[path = "common/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::Command;

use cli::Env;
use coffer_sops::keys::{age, ssh};

fn python() -> PathBuf {
    let venv = std::env::var_os("COFFER_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/coffer/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.is_file(),
        "the Python test venv is missing at {} (pip install -r crates/coffer-sops/tests/requirements.txt)",
        venv.display()
    );
    py
}

fn keygen(env: &Env) -> (PathBuf, String) {
    let key = env.path("id_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen must be installed");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_owned())
}

#[test]
fn coffer_to_pyrage() {
    let env = Env::new(0);
    let (key, public) = keygen(&env);
    env.write("a.yaml", b"a: secret\nnum: 5\n");
    let o = env.run(&["encrypt", "-i", "--age", &public, "a.yaml"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        String::from_utf8(env.read("a.yaml"))
            .unwrap()
            .contains("recipient: ssh-ed25519 AAAA")
    );
    // coffer itself, through SOPS_AGE_SSH_PRIVATE_KEY_FILE and through ~/.ssh/id_ed25519
    let mut c = env.cmd(&["decrypt", "a.yaml"]);
    c.env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key);
    assert_eq!(cli::run_cmd(c, None).text(), "a: secret\nnum: 5\n");
    std::fs::create_dir(env.path(".ssh")).unwrap();
    std::fs::copy(&key, env.path(".ssh/id_ed25519")).unwrap();
    assert_eq!(
        env.run(&["decrypt", "a.yaml"], &[]).text(),
        "a: secret\nnum: 5\n"
    );
    // the independent checker (pyrage's ssh identity)
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sops_check.py");
    let o = Command::new(python())
        .arg(script)
        .arg("yaml")
        .arg(env.path("a.yaml"))
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key)
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["documents"][0],
        serde_json::json!({"a": "secret", "num": 5})
    );
}

#[test]
fn pyrage_to_coffer() {
    let env = Env::new(0);
    let (key, public) = keygen(&env);
    let code = "import pyrage, sys, os\nr = pyrage.ssh.Recipient.from_str(sys.argv[1])\nd = os.urandom(32)\nsys.stdout.write(d.hex() + '\\n' + pyrage.encrypt(d, [r], armored=True).decode())\n";
    let o = Command::new(python())
        .args(["-c", code, &public])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let (hex_key, armored) = out.split_once('\n').unwrap();
    let id = ssh::Identity::from_openssh(&std::fs::read_to_string(&key).unwrap())
        .expect("parses the OpenSSH key");
    assert_eq!(id.recipient_string(), public.rsplit_once(' ').unwrap().0);
    let ids = age::Identities {
        x25519: Vec::new(),
        ssh: vec![id],
    };
    let got = age::decrypt(armored, &ids).expect("coffer opens pyrage's ssh-ed25519 stanza");
    assert_eq!(hex::encode(&got[..]), hex_key);
    // another key does not open it
    let other = Env::new(0);
    let (key2, _) = keygen(&other);
    let ids2 = age::Identities {
        x25519: Vec::new(),
        ssh: vec![ssh::Identity::from_openssh(&std::fs::read_to_string(key2).unwrap()).unwrap()],
    };
    assert!(age::decrypt(armored, &ids2).is_err());
}
