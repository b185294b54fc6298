"""Response wrapping: X-Vault-Wrap-TTL on any request, sys/wrapping/*,
single-use wrapping tokens, and `bao unwrap`; compared with OpenBao."""

import json

import pytest

from test_differential import compare, norm

WRAP = {"X-Vault-Wrap-TTL": "300"}


def wrapped(server, method, path, body=None, ttl="300"):
    r = server.api(method, path, body=body, headers={"X-Vault-Wrap-TTL": ttl})
    assert r.status_code == 200, r.text
    js = r.json()
    assert js["request_id"] == "" and js["data"] is None and js["auth"] is None
    return js["wrap_info"]


@pytest.mark.parametrize("target", ["coffer", "openbao"])
def test_wrap_unwrap_lookup_rewrap(target, request):
    s = request.getfixturevalue(target)
    info = wrapped(s, "POST", "sys/wrapping/wrap", {"foo": "bar", "n": 1})
    assert info["ttl"] == 300 and info["creation_path"] == "sys/wrapping/wrap" and info["token"].startswith("s.")
    look = s.api("POST", "sys/wrapping/lookup", {"token": info["token"]}, token="").json()["data"]
    assert look["creation_path"] == "sys/wrapping/wrap" and look["creation_ttl"] == 300
    new = s.api("POST", "sys/wrapping/rewrap", {"token": info["token"]}).json()["wrap_info"]
    assert new["token"] != info["token"] and new["creation_path"] == "sys/wrapping/wrap"
    assert s.api("POST", "sys/wrapping/unwrap", {"token": info["token"]}).status_code == 400
    got = s.api("POST", "sys/wrapping/unwrap", token=new["token"]).json()
    assert got["data"] == {"foo": "bar", "n": 1}
    again = s.api("POST", "sys/wrapping/unwrap", token=new["token"])
    assert again.status_code in (400, 403)


def test_same_answers_as_openbao(coffer, openbao):
    for s in (coffer, openbao):
        s.api("POST", "secret/data/wrapme", {"data": {"k": "v"}})
    steps = [
        ("POST", "sys/wrapping/wrap", {"a": 1}, None),
        ("POST", "sys/wrapping/wrap", {"a": 1}, WRAP),
        ("GET", "secret/data/wrapme", None, {"X-Vault-Wrap-TTL": "2m"}),
        ("POST", "auth/token/create", {"policies": ["default"]}, {"X-Vault-Wrap-TTL": "60s"}),
        ("POST", "sys/wrapping/lookup", {"token": "s.notawrappingtoken000000"}, None),
        ("POST", "sys/wrapping/unwrap", {"token": "s.notawrappingtoken000000"}, None),
    ]
    for method, path, body, headers in steps:
        a = openbao.api(method, path, body=body, headers=headers)
        b = coffer.api(method, path, body=body, headers=headers)
        assert a.status_code == b.status_code, (path, a.text, b.text)
        if a.content:
            compare(norm(a.json()), norm(b.json()))


def test_wrapped_kv_read_and_token(coffer):
    coffer.api("POST", "secret/data/wrapme", {"data": {"k": "v"}})
    info = wrapped(coffer, "GET", "secret/data/wrapme", ttl="2m")
    assert info["creation_path"] == "secret/data/wrapme" and info["ttl"] == 120
    got = coffer.api("POST", "sys/wrapping/unwrap", {"token": info["token"]}).json()
    assert got["data"]["data"] == {"k": "v"}
    info = wrapped(coffer, "POST", "auth/token/create", {"policies": ["default"]})
    assert "wrapped_accessor" in info
    auth = coffer.api("POST", "sys/wrapping/unwrap", token=info["token"]).json()["auth"]
    assert auth["accessor"] == info["wrapped_accessor"]
    assert coffer.api("GET", "auth/token/lookup-self", token=auth["client_token"]).status_code == 200


def test_wrapping_token_can_only_unwrap(coffer):
    info = wrapped(coffer, "POST", "sys/wrapping/wrap", {"x": "y"})
    assert coffer.api("GET", "secret/data/wrapme", token=info["token"]).status_code == 403
    assert coffer.api("GET", "auth/token/lookup-self", token=info["token"]).status_code == 403
    assert coffer.api("POST", "sys/wrapping/unwrap", token=info["token"]).json()["data"] == {"x": "y"}
    assert coffer.api("POST", "sys/wrapping/unwrap", {"token": info["token"]}, token="").status_code == 403


def test_bao_cli_unwrap(coffer):
    coffer.api("POST", "secret/data/wrapme", {"data": {"k": "v"}})
    out = coffer.bao("kv", "get", "-wrap-ttl=60s", "-format=json", "secret/wrapme")
    token = json.loads(out.stdout)["wrap_info"]["token"]
    un = json.loads(coffer.bao("unwrap", "-format=json", token).stdout)
    assert un["data"]["data"] == {"k": "v"}


def test_wrap_ttl_bounds_from_policy(coffer, tmp_path):
    pol = tmp_path / "w.hcl"
    pol.write_text('path "auth/token/create" { capabilities = ["update"] min_wrapping_ttl = "1s" max_wrapping_ttl = "90s" }\n')
    coffer.bao("policy", "write", "wraponly", str(pol))
    t = coffer.api("POST", "auth/token/create", {"policies": ["wraponly"]}).json()["auth"]["client_token"]
    assert coffer.api("POST", "auth/token/create", {"policies": ["wraponly"]}, token=t).status_code == 403
    assert coffer.api("POST", "auth/token/create", {"policies": ["wraponly"]}, token=t, headers={"X-Vault-Wrap-TTL": "5m"}).status_code == 403
    assert coffer.api("POST", "auth/token/create", {"policies": ["wraponly"]}, token=t, headers={"X-Vault-Wrap-TTL": "60s"}).status_code == 200
