//! Without `--cert`/`--controller-url`, kubeseal reaches the controller through the API server's
//! service proxy using the kubeconfig (server, bearer token): GET the Service for its port name,
//! then `/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/v1/...`. A fake API server on
//! 127.0.0.1 checks the paths and the token.

mod common;

use coffer_sealed::controller::http::{Handlers, RateLimiter};
use coffer_sealed::{KeyRing, PrivateKey, RingKey, SealingCert};
use common::{TestRequest, controller_answer, run_cli, serve_fn};

fn ring() -> KeyRing {
    let dir = common::compat().join("kubesealpy");
    let mut ring = KeyRing::new();
    ring.add(RingKey {
        key: PrivateKey::from_pem(&std::fs::read(dir.join("key.pem")).unwrap(), "key").unwrap(),
        cert: Some(SealingCert::from_pem(&std::fs::read(dir.join("cert.pem")).unwrap()).unwrap()),
        order_time: time::OffsetDateTime::now_utc(),
    });
    ring
}

/// Fake API server: service `ns/name` with first port `port_name`.
fn api_server(ns: &'static str, name: &'static str, port_name: &'static str) -> String {
    let ring = ring();
    let handlers = Handlers::new(RateLimiter::new(100, 100));
    serve_fn(move |req: &TestRequest| {
        let auth = req
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str());
        if auth != Some("Bearer t0k") {
            return (
                401,
                "application/json".into(),
                br#"{"kind":"Status","code":401}"#.to_vec(),
            );
        }
        if req.method == "GET" && req.path == format!("/api/v1/namespaces/{ns}/services/{name}") {
            let body = format!(
                r#"{{"kind":"Service","spec":{{"ports":[{{"name":"{port_name}","port":8080}}]}}}}"#
            );
            return (200, "application/json".into(), body.into_bytes());
        }
        let prefix = format!("/api/v1/namespaces/{ns}/services/http:{name}:{port_name}/proxy");
        match req.path.strip_prefix(&prefix) {
            Some(rest) => controller_answer(&ring, &handlers, req, rest),
            None => (
                404,
                "application/json".into(),
                br#"{"kind":"Status","code":404,"message":"not found"}"#.to_vec(),
            ),
        }
    })
}

fn kubeconfig(dir: &std::path::Path, server: &str) -> String {
    let p = dir.join("config");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u, namespace: apps}}\nclusters:\n- name: k\n  cluster: {{server: \"{server}\"}}\nusers:\n- name: u\n  user: {{token: t0k}}\n"
    );
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn fetch_cert_seal_and_validate_through_the_service_proxy() {
    let server = api_server("kube-system", "sealed-secrets-controller", "http");
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &server);
    let (code, pem, err) = run_cli(&["--fetch-cert", "--kubeconfig", &kc], &[], b"");
    assert_eq!(code, 0, "{err}");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    // Sealing without --cert: namespace from the context, cert through the proxy.
    let secret = b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n";
    let (code, sealed, err) = run_cli(&["--kubeconfig", &kc, "-o", "yaml"], &[], secret);
    assert_eq!(code, 0, "{err}");
    assert!(sealed.contains("  namespace: apps\n"));
    let (code, _, err) = run_cli(&["--validate", "--kubeconfig", &kc], &[], sealed.as_bytes());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_cli(
        &["--validate", "--kubeconfig", &kc],
        &[],
        sealed.replace("name: s\n", "name: t\n").as_bytes(),
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "error: unable to decrypt sealed secret: t\n")
    );
}

#[test]
fn controller_name_namespace_flags_and_helm_hint() {
    let server = api_server("sealed", "sealed-secrets", "");
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &server);
    let (code, _, err) = run_cli(&["--fetch-cert", "--kubeconfig", &kc], &[], b"");
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot get service kube-system/sealed-secrets-controller (http 404)")
            && err.contains("\"sealed-secrets\""),
        "{err}"
    );
    let env = [
        ("SEALED_SECRETS_CONTROLLER_NAMESPACE", "sealed"),
        ("SEALED_SECRETS_CONTROLLER_NAME", "sealed-secrets"),
    ];
    let (code, pem, err) = run_cli(&["--fetch-cert", "--kubeconfig", &kc], &env, b"");
    assert_eq!(code, 0, "{err}");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    // A wrong token is refused by the API server and reported.
    let (code, _, err) = run_cli(
        &["--fetch-cert", "--kubeconfig", &kc, "--token", "bad"],
        &env,
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("http 401"), "{err}");
    // exec plugins are not run.
    let exec = dir.path().join("exec");
    std::fs::write(&exec, format!("current-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nclusters:\n- name: k\n  cluster: {{server: \"{server}\"}}\nusers:\n- name: u\n  user:\n    exec: {{command: aws}}\n")).unwrap();
    let (code, _, err) = run_cli(
        &["--fetch-cert", "--kubeconfig", exec.to_str().unwrap()],
        &[],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("exec/auth-provider plugin"), "{err}");
}
