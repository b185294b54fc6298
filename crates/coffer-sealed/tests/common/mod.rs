//! Shared helpers for the integration tests: vector and Python locations.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The compat vector folder (`shared/compat/sealed-secrets`).
pub fn compat() -> PathBuf {
    let p = std::env::var("COFFER_SEALED_COMPAT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/sealed-secrets")
        });
    assert!(
        p.join("verify.py").exists(),
        "compat vectors not found at {} (set COFFER_SEALED_COMPAT)",
        p.display()
    );
    p
}

/// The test venv's python; fails loudly when the venv or kubesealpy is missing.
pub fn python() -> PathBuf {
    let venv =
        std::env::var("COFFER_TEST_VENV").unwrap_or_else(|_| "/root/.cache/coffer/venv".into());
    let py = PathBuf::from(&venv).join("bin/python3");
    assert!(
        py.exists(),
        "python venv missing at {venv}: create it and pip install -r crates/coffer-sealed/tests/requirements.txt"
    );
    let ok = Command::new(&py)
        .args(["-c", "import kubesealpy, cryptography, yaml"])
        .status()
        .map(|s| s.success());
    assert_eq!(
        ok.ok(),
        Some(true),
        "kubesealpy missing in {venv}: pip install -r crates/coffer-sealed/tests/requirements.txt"
    );
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
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("python runs");
    assert!(
        out.status.success(),
        "interop.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the CLI in process: (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> (u8, String, String) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut input = stdin;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut argv = vec![std::ffi::OsString::from("kubeseal")];
    argv.extend(args.iter().map(std::ffi::OsString::from));
    let code = coffer_sealed::cli::run(
        argv,
        &lookup,
        coffer_sealed::cli::Io {
            stdin: &mut input,
            stdout: &mut out,
            stderr: &mut err,
        },
    );
    (
        code,
        String::from_utf8(out).expect("utf-8 stdout"),
        String::from_utf8(err).expect("utf-8 stderr"),
    )
}

/// Replaces every sealed value (long base64 run) by `<SEALED>` so goldens are stable.
pub fn mask(s: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    let mut out = String::new();
    let mut run = String::new();
    for c in s.chars().chain(std::iter::once('\0')) {
        if is_b64(c) {
            run.push(c);
            continue;
        }
        if run.len() >= 300 {
            out.push_str("<SEALED>");
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

/// Compares `actual` with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
pub fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("golden {}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        actual,
        want,
        "output differs from golden {}",
        path.display()
    );
}

/// One parsed request of the test servers.
pub struct TestRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Serves `route` on 127.0.0.1 (one thread, `Connection: close`); returns `http://127.0.0.1:PORT`.
pub fn serve_fn(route: impl Fn(&TestRequest) -> (u16, String, Vec<u8>) + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            );
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let (status, ctype, out) = route(&TestRequest {
                method,
                path,
                headers,
                body,
            });
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                out.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&out));
        }
    });
    format!("http://{addr}")
}

/// Calls the controller handlers for `ring` with a request whose path had `prefix` stripped.
pub fn controller_answer(
    ring: &coffer_sealed::KeyRing,
    handlers: &coffer_sealed::controller::http::Handlers,
    req: &TestRequest,
    path: &str,
) -> (u16, String, Vec<u8>) {
    let r = coffer_sealed::controller::http::Request {
        method: &req.method,
        path,
        forwarded_for: None,
        body: &req.body,
    };
    let resp = handlers.handle(ring, r, std::time::Instant::now());
    (resp.status, resp.content_type.to_owned(), resp.body)
}

/// A local controller HTTP API on 127.0.0.1 serving `coffer_sealed::controller::http` for `ring`.
pub fn serve(ring: coffer_sealed::KeyRing) -> String {
    let handlers = coffer_sealed::controller::http::Handlers::new(
        coffer_sealed::controller::http::RateLimiter::new(100, 100),
    );
    serve_fn(move |req| controller_answer(&ring, &handlers, req, &req.path.clone()))
}
