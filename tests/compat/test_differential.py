"""Differential tests: the same requests go to the real OpenBao 2.7.2 and to
coffer; statuses and normalised bodies must agree. Normalisation masks
values that differ by nature (ids, tokens, times, accessors, versions)."""

import re

import pytest

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TOKEN = re.compile(r"^s\.[0-9A-Za-z]{24}$")
VOLATILE_KEYS = {
    "request_id", "accessor", "uuid", "creation_time", "issue_time", "expire_time", "created_time", "updated_time",
    "modified", "running_plugin_version", "version_string", "client_token", "id", "entity_id", "secret_id",
    "secret_id_accessor", "role_id", "last_updated_time", "expiration_time", "cluster_name", "cluster_id",
    "server_time_utc", "migration_id", "wrapped_accessor", "token",
}
# Fields coffer adds on purpose (the union of Vault's and OpenBao's bodies).
EXTRA_OK = {"performance_standby", "enterprise", "echo_duration_ms", "clock_skew_ms", "build_date"}


def norm(v, key=None):
    if key in VOLATILE_KEYS and v not in (None, "", 0):
        return "<volatile>"
    if isinstance(v, dict):
        return {k: norm(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str):
        if UUID.match(v):
            return "<uuid>"
        if TIME.match(v):
            return "<time>"
        if TOKEN.match(v):
            return "<token>"
        if key == "ttl" or key == "lease_duration":
            return v
    if key in ("ttl", "lease_duration", "creation_ttl") and isinstance(v, int) and v > 60:
        return "<ttl>" if v % 60 in (0, 59, 58) else v
    return v


def compare(a, b, path="$"):
    """Every key OpenBao sends must be in coffer's answer with the same value."""
    if isinstance(a, dict) and isinstance(b, dict):
        missing = set(a) - set(b)
        assert not missing, f"{path}: coffer lacks {sorted(missing)}"
        extra = set(b) - set(a) - EXTRA_OK
        assert not extra, f"{path}: coffer adds {sorted(extra)}"
        for k in a:
            compare(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {a} != {b}"
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: openbao {a!r} != coffer {b!r}"


def exchange(server, method, path, body=None, headers=None, raw=None, token=None):
    r = server.api(method, path, body=body, headers=headers, raw=raw, token=token)
    try:
        data = r.json() if r.content else None
    except ValueError:
        data = r.text
    return r.status_code, norm(data)


# Each step: (method, path, body). Run in order against both servers.
SCENARIOS = {
    "kv_v2": [
        ("POST", "sys/mounts/kv2", {"type": "kv-v2"}),
        ("POST", "sys/mounts/kv2", {"type": "kv-v2"}),
        ("POST", "kv2/config", {"max_versions": 3, "cas_required": False, "delete_version_after": "0s"}),
        ("GET", "kv2/config", None),
        ("POST", "kv2/data/app/db", {"data": {"user": "u", "pass": "p1"}}),
        ("POST", "kv2/data/app/db", {"data": {"user": "u", "pass": "p2"}, "options": {"cas": 1}}),
        ("POST", "kv2/data/app/db", {"data": {"user": "u"}, "options": {"cas": 1}}),
        ("POST", "kv2/data/app/new", {"data": {"a": "b"}, "options": {"cas": 0}}),
        ("POST", "kv2/data/app/new", {"data": {"a": "b"}, "options": {"cas": 0}}),
        ("POST", "kv2/data/app/db", {"data": {"user": "u", "pass": "p3"}}),
        ("POST", "kv2/data/app/db", {"data": {"user": "u", "pass": "p4"}}),
        ("GET", "kv2/data/app/db", None),
        ("GET", "kv2/data/app/db?version=2", None),
        ("GET", "kv2/data/app/db?version=1", None),
        ("GET", "kv2/data/app/db?version=0", None),
        ("GET", "kv2/data/missing", None),
        ("POST", "kv2/delete/app/db", {"versions": [4]}),
        ("GET", "kv2/data/app/db?version=4", None),
        ("POST", "kv2/undelete/app/db", {"versions": ["4"]}),
        ("POST", "kv2/destroy/app/db", {"versions": [3]}),
        ("GET", "kv2/data/app/db?version=3", None),
        ("DELETE", "kv2/data/app/db", None),
        ("GET", "kv2/data/app/db", None),
        ("GET", "kv2/metadata/app/db", None),
        ("POST", "kv2/metadata/app/db", {"max_versions": 2, "cas_required": True, "custom_metadata": {"owner": "team-a"}, "delete_version_after": "1h"}),
        ("POST", "kv2/data/app/db", {"data": {"a": 1}}),
        ("GET", "kv2/metadata/app/db", None),
        ("LIST", "kv2/metadata/app", None),
        ("GET", "kv2/metadata?list=true", None),
        ("LIST", "kv2/data/app", None),
        ("GET", "kv2/subkeys/app/new", None),
        ("GET", "kv2/app/new", None),
        ("PUT", "kv2/app/new", {"a": 1}),
        ("DELETE", "kv2/metadata/app/db", None),
        ("GET", "kv2/metadata/app/db", None),
        ("DELETE", "sys/mounts/kv2", None),
    ],
    "kv_v1": [
        ("POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}, "description": "v1 store"}),
        ("PUT", "kv1/app/db", {"user": "u", "pass": "p", "ttl": "1h"}),
        ("GET", "kv1/app/db", None),
        ("POST", "kv1/app/other", {"x": 1}),
        ("LIST", "kv1/app", None),
        ("GET", "kv1/app/?list=true", None),
        ("LIST", "kv1/none", None),
        ("DELETE", "kv1/app/db", None),
        ("GET", "kv1/app/db", None),
        ("GET", "sys/mounts/kv1/tune", None),
        ("POST", "sys/mounts/kv1/tune", {"default_lease_ttl": "1h", "max_lease_ttl": "24h", "description": "tuned"}),
        ("GET", "sys/mounts/kv1/tune", None),
        ("DELETE", "sys/mounts/kv1", None),
        ("DELETE", "sys/mounts/doesnotexist", None),
        ("POST", "sys/mounts/bad", {"type": "nope"}),
    ],
    "policies": [
        ("PUT", "sys/policies/acl/app2", {"policy": 'path "secret/data/app/*" { capabilities = ["read"] }'}),
        ("PUT", "sys/policies/acl/app2", {"policy": 'path "x" { capabilities = ["read"] }', "cas": 5}),
        ("PUT", "sys/policies/acl/app2", {"policy": 'path "x" { capabilities = ["read"] }', "cas": 1}),
        ("GET", "sys/policies/acl/app2", None),
        ("PUT", "sys/policies/acl/jsonpol", {"policy": '{"path":{"kv1/*":{"capabilities":["read","list"]}}}'}),
        ("LIST", "sys/policies/acl", None),
        ("GET", "sys/policy", None),
        ("PUT", "sys/policy/nv", {"name": "nv", "rules": 'path "a" { capabilities = ["read"] }'}),
        ("GET", "sys/policy/nv", None),
        ("GET", "sys/policies/acl/root", None),
        ("PUT", "sys/policies/acl/root", {"policy": 'path "a" { capabilities = ["read"] }'}),
        ("DELETE", "sys/policies/acl/default", None),
        ("GET", "sys/policies/acl/nosuch", None),
        ("PUT", "sys/policies/acl/bad", {"policy": 'path "x" { capabilities = ["bogus"] }'}),
        ("POST", "sys/capabilities-self", {"paths": ["secret/data/app/x", "sys/mounts/x"]}),
        ("POST", "sys/capabilities-self", {"path": "secret/data/app/x"}),
        ("DELETE", "sys/policies/acl/app2", None),
        ("DELETE", "sys/policies/acl/jsonpol", None),
        ("DELETE", "sys/policy/nv", None),
    ],
    "tokens": [
        ("POST", "auth/token/create", {"policies": ["app"], "ttl": "1h", "explicit_max_ttl": "2h", "meta": {"team": "a"}, "display_name": "svc"}),
        ("POST", "auth/token/create-orphan", {"policies": ["app"], "ttl": "10m"}),
        ("POST", "auth/token/create", {"policies": ["root"]}),
        ("POST", "auth/token/revoke-orphan", {"token": "x"}),
        ("POST", "auth/token/lookup", {"token": "s.aaaaaaaaaaaaaaaaaaaaaaaa"}),
        ("GET", "auth/token/lookup-self", None),
        ("POST", "auth/token/lookup-accessor", {"accessor": "nope"}),
    ],
    "wire": [
        ("GET", "nonexist/foo", None),
        ("GET", "sys/init", None),
        ("GET", "sys/leader", None),
        ("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}),
        ("PATCH", "secret/data/x", {"data": {}}),
        ("POST", "secret/data/x", None, "{"),
        ("POST", "secret/data/x", None, "null"),
        ("GET", "sys/internal/ui/mounts/secret/foo", None),
        ("GET", "sys/internal/ui/mounts/nonexistent/foo", None),
        ("POST", "sys/mounts/secret", {"type": "kv-v2"}),
    ],
    "userpass_approle": [
        ("POST", "sys/auth/userpass", {"type": "userpass"}),
        ("POST", "auth/userpass/users/bob", {"password": "pw", "token_policies": "app,default", "token_ttl": "1h"}),
        ("GET", "auth/userpass/users/bob", None),
        ("LIST", "auth/userpass/users", None),
        ("POST", "auth/userpass/login/bob", {"password": "wrong"}),
        ("POST", "auth/userpass/login/nobody", {"password": "x"}),
        ("POST", "auth/userpass/login/bob", {"password": "pw"}),
        ("DELETE", "auth/userpass/users/bob", None),
        ("POST", "sys/auth/approle", {"type": "approle"}),
        ("POST", "auth/approle/role/web", {"token_policies": ["app"], "token_ttl": "20m", "token_max_ttl": "1h", "secret_id_ttl": "10m", "secret_id_num_uses": 2, "bind_secret_id": True, "token_type": "service"}),
        ("GET", "auth/approle/role/web", None),
        ("LIST", "auth/approle/role", None),
        ("POST", "auth/approle/role/web/role-id", {"role_id": "my-custom-role-id"}),
        ("GET", "auth/approle/role/web/role-id", None),
        ("POST", "auth/approle/role/web/custom-secret-id", {"secret_id": "my-custom-secret"}),
        ("POST", "auth/approle/login", {"role_id": "my-custom-role-id", "secret_id": "my-custom-secret"}),
        ("POST", "auth/approle/login", {"role_id": "my-custom-role-id", "secret_id": "wrong"}),
        ("POST", "auth/approle/login", {"role_id": "my-custom-role-id"}),
        ("POST", "auth/approle/role/web/secret-id/lookup", {"secret_id": "my-custom-secret"}),
        ("GET", "sys/auth/userpass/tune", None),
        ("DELETE", "auth/approle/role/web", None),
        ("DELETE", "sys/auth/approle", None),
        ("DELETE", "sys/auth/userpass", None),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_answers(name, coffer, openbao):
    for step in SCENARIOS[name]:
        method, path, body = step[:3]
        raw = step[3] if len(step) > 3 else None
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" and raw is None and path.endswith("db") else None
        a = exchange(openbao, method, path, body, headers=headers, raw=raw)
        b = exchange(coffer, method, path, body, headers=headers, raw=raw)
        try:
            assert a[0] == b[0], f"status openbao {a[0]} coffer {b[0]}"
            compare(a[1], b[1])
        except AssertionError as e:
            raise AssertionError(f"{name}: {method} {path} {body}: {e}\nopenbao: {a}\ncoffer:  {b}") from None
