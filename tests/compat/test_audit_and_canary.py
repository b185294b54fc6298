"""Audit file device (HMAC'd values, hash chain, `coffer audit verify`, fail
closed) and the canary test: secret values written through the API never
appear in plain text in logs, error bodies, metrics or the audit file."""

import json
import subprocess

import requests

from conftest import COFFER, start_coffer_config

CANARY = "canary-7f3a9c-do-not-leak"


def audited_server(workdir, file_path):
    config = f"""
listener "tcp" {{
  address = "127.0.0.1:PORT"
  tls_disable = true
}}
storage "file" {{
  path = "{workdir}/data"
}}
log_level = "trace"
audit "file" "file" {{
  options {{
    file_path = "{file_path}"
  }}
}}
"""
    s = start_coffer_config(config, workdir)
    init = s.api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="").json()
    s.api("PUT", "sys/unseal", {"key": init["keys_base64"][0]}, token="")
    s.token = init["root_token"]
    return s, init


def test_audit_lines_are_hmacd_and_chained(workdir):
    log = f"{workdir}/audit.log"
    s, init = audited_server(workdir, log)
    try:
        s.api("POST", "sys/mounts/secret", {"type": "kv-v2"})
        assert s.api("POST", "secret/data/audited", {"data": {"password": "hunter2", "n": 5}}).status_code == 200
        s.api("GET", "secret/data/audited", token="s.bogusbogusbogusbogusbogu")
        lines = [json.loads(line) for line in open(log)]
        write = [e for e in lines if e["request"]["path"] == "secret/data/audited" and e["request"]["operation"] == "create"]
        assert [e["type"] for e in write] == ["request", "response"]
        req = write[0]["request"]
        assert req["data"]["data"]["n"] == 5
        pw_hash = req["data"]["data"]["password"]
        assert pw_hash.startswith("hmac-sha256:")
        assert req["client_token"].startswith("hmac-sha256:") and req["client_token"] != init["root_token"]
        expected = s.api("POST", "sys/audit-hash/file", {"input": "hunter2"}).json()["hash"]
        assert expected == pw_hash
        denied = [e for e in lines if e.get("error") == "permission denied"]
        assert denied, "a denied request is audited too"
        assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
        ok = subprocess.run([COFFER, "audit", "verify", log], capture_output=True, text=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
    finally:
        s.kill()
    # Tamper: change one value in line 3; verify points at line 4 (whose prev_hash no longer matches).
    text = open(log).read().splitlines()
    text[2] = text[2].replace('"request"', '"requesT"', 1)
    open(log, "w").write("\n".join(text) + "\n")
    bad = subprocess.run([COFFER, "audit", "verify", log], capture_output=True, text=True)
    assert bad.returncode == 2 and ":4:" in bad.stdout, bad.stdout
    # Remove a line: the sequence gap is reported at that position.
    text = open(log).read().splitlines()
    del text[4]
    open(log, "w").write("\n".join(text) + "\n")
    gone = subprocess.run([COFFER, "audit", "verify", log], capture_output=True, text=True)
    assert gone.returncode == 2


def test_audit_fails_closed(workdir):
    # /dev/full accepts the open but every write fails with ENOSPC.
    s, _ = audited_server(workdir, "/dev/full")
    try:
        r = s.api("GET", "sys/mounts")
        assert r.status_code == 500 and "audit" in r.json()["errors"][0]
        r = s.api("POST", "sys/mounts/secret", {"type": "kv-v2"})
        assert r.status_code == 500
        # Unaudited endpoints (health) still answer: the server refuses work, it does not die.
        assert s.api("GET", "sys/health").status_code == 200
    finally:
        s.kill()


def test_canary_never_leaks(workdir):
    log = f"{workdir}/audit.log"
    s, _ = audited_server(workdir, log)
    outputs = []
    try:
        s.api("POST", "sys/mounts/secret", {"type": "kv-v2"})
        s.api("POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}})
        outputs.append(s.api("POST", "secret/data/c", {"data": {"v": CANARY}}).text)
        outputs.append(s.api("POST", "kv1/c", {"v": CANARY}).text)
        outputs.append(s.api("POST", "secret/data/c", {"data": {"v": CANARY}, "options": {"cas": 99}}).text)
        outputs.append(s.api("POST", "secret/data/c", {"data": {"v": CANARY}, "options": {"cas": CANARY}}).text)
        s.api("POST", "sys/auth/userpass", {"type": "userpass"})
        outputs.append(s.api("POST", "auth/userpass/users/u", {"password": CANARY}).text)
        outputs.append(s.api("POST", "auth/userpass/login/u", {"password": CANARY + "x"}).text)
        outputs.append(s.api("GET", "secret/data/c", token=CANARY).text)
        outputs.append(s.api("GET", "sys/metrics?format=prometheus").text)
        for body in outputs[2:]:
            assert CANARY not in body, body
        # The canary really is stored and readable, so the greps below can fail.
        assert s.api("GET", "secret/data/c").json()["data"]["data"]["v"] == CANARY
    finally:
        s.kill()
    assert CANARY not in s.logs(), "server log leaks the canary"
    assert CANARY not in open(log).read(), "audit log leaks the canary"
    data_files = subprocess.run(["grep", "-rl", CANARY, f"{workdir}/data"], capture_output=True, text=True)
    assert data_files.stdout == "", "storage holds the canary in plain text"
