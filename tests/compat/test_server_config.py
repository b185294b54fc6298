"""`coffer server -config=FILE`: HCL errors name file, line and field and exit
non-zero; TLS listeners (rustls) serve the real `bao` CLI; metrics."""

import socket
import subprocess

from conftest import COFFER, start_coffer_config, free_port


def run_config(workdir, text, timeout=10):
    cfg = f"{workdir}/bad.hcl"
    with open(cfg, "w") as f:
        f.write(text)
    return subprocess.run([COFFER, "server", f"-config={cfg}"], capture_output=True, text=True, timeout=timeout), cfg


def test_unknown_field_is_named_with_file_and_line(workdir):
    r, cfg = run_config(workdir, 'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n  colour = "blue"\n}\nstorage "inmem" {}\n')
    assert r.returncode != 0
    assert f"{cfg}:4: unknown field \"colour\" in listener \"tcp\"" in r.stderr


def test_unknown_block_and_bad_storage(workdir):
    r, cfg = run_config(workdir, 'listener "tcp" {\n  tls_disable = true\n}\nstorage "inmem" {}\nseals "x" {}\n')
    assert r.returncode != 0 and f"{cfg}:5: unknown block \"seals\"" in r.stderr
    r, cfg = run_config(workdir, 'listener "tcp" {\n  tls_disable = true\n}\nstorage "consul" {}\n')
    assert r.returncode != 0 and "unsupported storage type \"consul\"" in r.stderr


def test_unreadable_tls_files(workdir):
    r, _ = run_config(workdir, f'listener "tcp" {{\n  address = "127.0.0.1:0"\n  tls_cert_file = "{workdir}/nope.crt"\n  tls_key_file = "{workdir}/nope.key"\n}}\nstorage "inmem" {{}}\n')
    assert r.returncode != 0 and "nope.crt" in r.stderr and "TLS" in r.stderr


def test_port_in_use(workdir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r, _ = run_config(workdir, f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\nstorage "inmem" {{}}\n')
    assert r.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in r.stderr


def test_tls_listener_with_bao_cli(workdir):
    key, crt = f"{workdir}/tls.key", f"{workdir}/tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    port = free_port()
    config = f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_cert_file = "{crt}"\n  tls_key_file = "{key}"\n  tls_min_version = "tls13"\n}}\nstorage "inmem" {{}}\n'
    with open(f"{workdir}/tls.hcl", "w") as f:
        f.write(config)
    from conftest import Server
    s = Server("coffer-tls", [COFFER, "server", f"-config={workdir}/tls.hcl"], port, token="")
    s.addr = f"https://127.0.0.1:{port}"
    try:
        import requests
        import time
        for _ in range(100):
            try:
                requests.get(s.addr + "/v1/sys/health", verify=crt, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        env = {"BAO_CACERT": crt}
        out = s.bao("operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json", env_extra=env)
        import json
        init = json.loads(out.stdout)
        s.bao("operator", "unseal", init["unseal_keys_b64"][0], env_extra=env)
        s.token = init["root_token"]
        assert "Sealed" in s.bao("status", env_extra=env).stdout
        # Plain HTTP to a TLS listener is refused.
        plain = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/v1/sys/health"], capture_output=True, text=True)
        assert plain.stdout in ("000", "400")
    finally:
        s.kill()


def test_metrics_in_prometheus_format(coffer):
    coffer.api("GET", "sys/mounts")
    r = coffer.api("GET", "sys/metrics?format=prometheus")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "coffer_http_requests_total" in r.text and 'mount="sys/"' in r.text
    assert "coffer_http_request_duration_seconds" in r.text
    assert "coffer_core_unsealed 1" in r.text
    assert coffer.api("GET", "sys/metrics", token="").status_code == 403


def test_metric_labels_stay_bounded(coffer):
    for i in range(20):
        coffer.api("GET", f"random-{i}/x")
    text = coffer.api("GET", "sys/metrics?format=prometheus").text
    assert "random-" not in text and 'mount="other"' in text
