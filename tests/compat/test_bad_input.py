"""Bad input never panics or answers 5xx: malformed JSON, wrong field types,
oversized bodies, path traversal, unknown paths, bad and expired tokens."""

import time

import pytest
import requests

from conftest import start_coffer_config

CASES = [
    ("POST", "secret/data/x", "{", None),
    ("POST", "secret/data/x", "[1,2]", None),
    ("POST", "secret/data/x", '"str"', None),
    ("POST", "secret/data/x", '{"data": "notanobject"}', None),
    ("POST", "secret/data/x", '{"data": {"a": 1}, "options": {"cas": "abc"}}', None),
    ("POST", "secret/data/x", '{"data": {"a": 1}, "options": "x"}', None),
    ("GET", "secret/data/x?version=abc", None, None),
    ("POST", "secret/config", '{"max_versions": "many"}', None),
    ("POST", "secret/delete/x", '{"versions": ["one"]}', None),
    ("POST", "sys/mounts/foo", '{"type": 5}', None),
    ("POST", "sys/mounts/foo", '{"type": "kv", "config": "bad"}', None),
    ("POST", "sys/mounts/../etc", '{"type": "kv"}', None),
    ("GET", "secret/data/%2e%2e/%2e%2e/sys/mounts", None, None),
    ("GET", "secret/data/%zz", None, None),
    ("POST", "sys/policies/acl/p", '{"policy": "path \\"x\\" {"}', None),
    ("POST", "sys/policies/acl/p", '{"policy": 12}', None),
    ("POST", "auth/token/create", '{"ttl": "forever"}', None),
    ("POST", "auth/token/create", '{"num_uses": -1}', None),
    ("POST", "auth/token/create", '{"policies": {"a": 1}}', None),
    ("POST", "auth/token/lookup", '{"token": 5}', None),
    ("POST", "sys/unseal", '{"key": "!!!"}', None),
    ("GET", "sys/health?standbycode=abc", None, None),
    ("GET", "no/such/mount", None, None),
    ("GET", "sys/nonexistent", None, None),
    ("DELETE", "sys/mounts/sys", None, None),
    ("DELETE", "sys/mounts/cubbyhole", None, None),
    ("POST", "sys/mounts/sys", '{"type": "kv"}', None),
    ("GET", "secret/data/x", None, {"X-Vault-Token": "s.doesnotexist00000000000"}),
    ("GET", "secret/data/x", None, {"X-Vault-Token": ""}),
    ("GET", "secret/data/x", None, {"Authorization": "Bearer nope"}),
    ("GET", "secret/data/x", None, {"X-Vault-Token": "\u00ff"}),
    ("OPTIONS", "secret/data/x", None, None),
    ("PATCH", "secret/data/x", '{"data":{}}', {"Content-Type": "text/plain"}),
    ("POST", "auth/userpass/login/x", "{", None),
]


@pytest.mark.parametrize("method,path,body,headers", CASES)
def test_bad_input_is_a_clear_4xx(coffer, method, path, body, headers):
    h = {"X-Vault-Token": coffer.token}
    h.update(headers or {})
    r = requests.request(method, f"{coffer.addr}/v1/{path}", data=body, headers={k: v.encode("latin-1") for k, v in h.items()}, timeout=10)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if r.content:
        assert set(r.json()) == {"errors"}, r.text
        assert all(isinstance(e, str) for e in r.json()["errors"])


def raw_get(server, path):
    """Sends the path byte for byte (HTTP clients normalise `..` away)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("GET", "/v1/" + path, skip_accept_encoding=True)
    conn.putheader("X-Vault-Token", server.token)
    conn.endheaders()
    r = conn.getresponse()
    return r.status, r.read()


def test_traversal_never_reaches_another_mount(coffer):
    coffer.api("POST", "secret/data/inside", {"data": {"k": "v"}})
    for path in ["secret/data/x/../inside", "secret/data/./inside", "secret//data/inside", "secret/data/../../sys/mounts",
                 "secret/data/%2e%2e/%2e%2e/sys/mounts", "secret/data/..%2f..%2fsys/mounts"]:
        status, body = raw_get(coffer, path)
        assert status == 400, (path, status, body)


def test_body_over_max_request_size_is_413(workdir):
    config = """
listener "tcp" {
  address = "127.0.0.1:PORT"
  tls_disable = true
  max_request_size = 1024
}
storage "inmem" {}
"""
    s = start_coffer_config(config, workdir)
    try:
        init = s.api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="").json()
        s.api("PUT", "sys/unseal", {"key": init["keys"][0]}, token="")
        s.token = init["root_token"]
        s.api("POST", "sys/mounts/secret", {"type": "kv-v2"})
        r = s.api("POST", "secret/data/big", {"data": {"v": "x" * 4096}})
        assert r.status_code == 413 and r.json() == {"errors": ["http: request body too large"]}
        assert s.api("POST", "secret/data/small", {"data": {"v": "x"}}).status_code == 200
    finally:
        s.kill()


def test_expired_token_is_refused(coffer):
    tok = coffer.api("POST", "auth/token/create", {"policies": ["default"], "ttl": "1s"}).json()["auth"]["client_token"]
    assert coffer.api("GET", "auth/token/lookup-self", token=tok).status_code == 200
    time.sleep(2.2)
    r = coffer.api("GET", "auth/token/lookup-self", token=tok)
    assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}


def test_limited_use_token_runs_out(coffer):
    tok = coffer.api("POST", "auth/token/create", {"policies": ["default"], "num_uses": 2}).json()["auth"]["client_token"]
    assert coffer.api("GET", "auth/token/lookup-self", token=tok).status_code == 200
    assert coffer.api("GET", "auth/token/lookup-self", token=tok).status_code == 200
    assert coffer.api("GET", "auth/token/lookup-self", token=tok).status_code == 403


def test_sealed_server_answers_503(workdir):
    s = start_coffer_config('listener "tcp" {\n address = "127.0.0.1:PORT"\n tls_disable = true\n}\nstorage "inmem" {}\n', workdir)
    try:
        s.api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="")
        r = s.api("GET", "secret/data/x", token="whatever")
        assert r.status_code == 503 and r.json() == {"errors": ["Vault is sealed"]}
        assert s.api("GET", "sys/seal-status", token="").status_code == 200
        assert s.api("GET", "sys/health", token="").status_code == 503
    finally:
        s.kill()


def test_unknown_token_is_refused_before_the_body_is_read(coffer):
    # Malformed and oversized bodies from an unauthenticated caller are never parsed.
    r = coffer.api("POST", "secret/data/x", raw="{not json", token="s.unknownunknownunknown00")
    assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}
    r = coffer.api("POST", "secret/data/x", raw="x" * (40 * 1024 * 1024), token="s.unknownunknownunknown00")
    assert r.status_code == 403
    # Login paths still read their body.
    r = coffer.api("POST", "auth/token/create", raw="{not json")
    assert r.status_code == 400
