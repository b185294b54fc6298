//! `coffer controller --key-source coffer` end to end (feature `kube-controller`): the real
//! controller entry point runs in a child process against a real coffer server and a stand-in
//! Kubernetes API (every call answers 404, so only the HTTP API matters here), and its
//! `/v1/cert.pem`, `/v1/verify` and `/v1/rotate` are used over HTTP as kubeseal does.
#![cfg(feature = "kube-controller")]

#[path = "common/coffer_server.rs"]
mod coffer_server;
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coffer_sealed::{SealedSecret, codec};
use coffer_server::{ok, start, transport};

const CHILD_ENV: &str = "COFFER_SEALED_CONTROLLER_CHILD_ARGS";

/// Runs only in the child process: the controller's `main` with the arguments from the parent.
#[test]
fn controller_child() {
    let Ok(args) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut argv = vec![std::ffi::OsString::from("controller")];
    argv.extend(args.split('\n').map(std::ffi::OsString::from));
    let code = coffer_sealed::controller::cli::main(argv);
    panic!("controller exited: {code:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn controller_serves_coffer_key() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let s = start("rsa-2048");
    let kube = common::serve_fn(|_| {
        (
            404,
            "application/json".into(),
            br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#
                .to_vec(),
        )
    });
    let kubeconfig = s.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {kube}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: kube-system\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let (port, metrics) = (free_port(), free_port());
    let args = [
        "--key-source=coffer".to_owned(),
        format!("--coffer-addr={}", s.addr),
        format!(
            "--coffer-token-file={}",
            s.dir.path().join("token").display()
        ),
        "--coffer-key=sealing".to_owned(),
        format!("--listen-addr=127.0.0.1:{port}"),
        format!("--listen-metrics-addr=127.0.0.1:{metrics}"),
        "--my-cn=coffer-e2e".to_owned(),
        "--rate-limit=100".to_owned(),
        "--rate-limit-burst=100".to_owned(),
    ]
    .join("\n");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "controller_child", "--nocapture"])
        .env(CHILD_ENV, args)
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let controller = format!("http://127.0.0.1:{port}");
    let http = transport(&controller);
    let deadline = Instant::now() + Duration::from_secs(60);
    let cert = loop {
        if let Ok((200, body)) = http.request("GET", "/v1/cert.pem", &[], b"") {
            break String::from_utf8(body).unwrap();
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("controller exited ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "controller did not serve /v1/cert.pem"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let pid = child.id();
    let _guard = Kill(child);
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");

    // kubeseal seals against the controller's URL (the certificate of the transit key).
    let (code, out, err) = common::run_cli(
        &["--controller-url", &controller, "--format", "json"],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: team-a\nstringData:\n  password: hunter2\n",
    );
    assert_eq!(code, 0, "{err}");
    let doc = codec::parse_documents(out.as_bytes(), "sealed").unwrap();
    assert!(SealedSecret::from_value(&doc[0], true).is_ok());

    // /v1/verify unseals through coffer: 200 in scope, 409 when renamed.
    let (st, body) = http
        .request("POST", "/v1/verify", &[], out.as_bytes())
        .unwrap();
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let renamed = out.replace("\"name\": \"db\"", "\"name\": \"other\"");
    assert_ne!(renamed, out);
    let (st, _) = http
        .request("POST", "/v1/verify", &[], renamed.as_bytes())
        .unwrap();
    assert_eq!(st, 409);

    // A rotation made in coffer: /v1/rotate still re-seals with the served certificate (the
    // controller re-reads the versions every 5 minutes) and the result opens.
    ok(&s, "POST", "/v1/transit/keys/sealing/rotate", "{}");
    let (st, body) = http
        .request("POST", "/v1/rotate", &[], out.as_bytes())
        .unwrap();
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let (st, _) = http.request("POST", "/v1/verify", &[], &body).unwrap();
    assert_eq!(st, 200, "the re-sealed value opens too");

    // SIGUSR1 = renewal: the controller rotates the transit key (v3) and serves its certificate.
    let status = Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let renewed = loop {
        let (_, body) = http.request("GET", "/v1/cert.pem", &[], b"").unwrap();
        let now = String::from_utf8(body).unwrap();
        if now != cert {
            break now;
        }
        assert!(Instant::now() < deadline, "SIGUSR1 did not renew the key");
        std::thread::sleep(Duration::from_millis(200));
    };
    let keys: serde_json::Value =
        serde_json::from_str(&ok(&s, "GET", "/v1/transit/keys/sealing", "")).unwrap();
    assert_eq!(keys["data"]["latest_version"], 3);
    let served = coffer_sealed::SealingCert::from_pem(renewed.as_bytes()).unwrap();
    let v3 = keys["data"]["keys"]["3"]["public_key"].as_str().unwrap();
    let spki = v3
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    let served_spki = {
        use x509_parser::prelude::*;
        let (_, pem) = parse_x509_pem(served.pem().as_bytes()).unwrap();
        let (_, c) = X509Certificate::from_der(&pem.contents).unwrap();
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(c.public_key().raw)
    };
    assert_eq!(
        served_spki, spki,
        "the renewed certificate is transit version 3's"
    );
    let (st, _) = http
        .request("POST", "/v1/verify", &[], out.as_bytes())
        .unwrap();
    assert_eq!(st, 200, "values sealed for version 1 still open");

    // Every verify went through coffer's transit decrypt (audit log).
    let log = std::fs::read_to_string(s.dir.path().join("audit.log")).unwrap();
    assert!(log.contains("transit/decrypt/sealing"));
    assert!(!log.contains(&s.token));
}
