"""The real `bao` CLI (OpenBao 2.7.2) drives coffer through a scripted session."""

import json
import re

from conftest import start_coffer_config

FILE_CONFIG = """
listener "tcp" {
  address     = "127.0.0.1:PORT"
  tls_disable = true
}
storage "file" {
  path = "DATA"
}
api_addr = "http://127.0.0.1:PORT"
"""


def test_operator_init_unseal_seal_status(workdir):
    s = start_coffer_config(FILE_CONFIG.replace("DATA", f"{workdir}/data"), workdir)
    try:
        st = s.bao("status", check=False)
        assert st.returncode == 2 and re.search(r"Initialized\s+false", st.stdout)
        init = json.loads(s.bao("operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json").stdout)
        assert len(init["unseal_keys_b64"]) == 3 and init["root_token"].startswith("s.")
        assert s.bao("status", check=False).returncode == 2
        s.bao("operator", "unseal", init["unseal_keys_hex"][0])
        out = json.loads(s.bao("operator", "unseal", "-format=json", init["unseal_keys_b64"][1]).stdout)
        assert out["sealed"] is False
        s.token = init["root_token"]
        assert re.search(r"Sealed\s+false", s.bao("status").stdout)
        s.bao("secrets", "enable", "-version=2", "-path=secret", "kv")
        s.bao("kv", "put", "secret/persist", "k=v")
        s.bao("operator", "seal")
        assert s.api("GET", "secret/data/persist").status_code == 503
        s.bao("operator", "unseal", init["unseal_keys_b64"][2])
        s.bao("operator", "unseal", init["unseal_keys_b64"][0])
        assert s.bao("kv", "get", "-field=k", "secret/persist").stdout == "v"
    finally:
        s.kill()


def test_secrets_and_kv_v2(coffer):
    b = coffer.bao
    b("secrets", "enable", "-path=kv2", "-version=2", "kv")
    listing = json.loads(b("secrets", "list", "-format=json").stdout)
    assert listing["kv2/"]["options"]["version"] == "2"
    b("kv", "put", "kv2/app/db", "user=u", "pass=p1")
    b("kv", "put", "-cas=1", "kv2/app/db", "user=u", "pass=p2")
    assert b("kv", "put", "-cas=1", "kv2/app/db", "pass=x", check=False).returncode != 0
    assert b("kv", "get", "-field=pass", "kv2/app/db").stdout == "p2"
    assert b("kv", "get", "-version=1", "-field=pass", "kv2/app/db").stdout == "p1"
    b("kv", "patch", "kv2/app/db", "extra=e")
    got = json.loads(b("kv", "get", "-format=json", "kv2/app/db").stdout)
    assert got["data"]["data"] == {"user": "u", "pass": "p2", "extra": "e"}
    assert got["data"]["metadata"]["version"] == 3
    b("kv", "delete", "kv2/app/db")
    assert b("kv", "get", "-field=pass", "kv2/app/db", check=False).returncode != 0
    b("kv", "undelete", "-versions=3", "kv2/app/db")
    assert b("kv", "get", "-field=extra", "kv2/app/db").stdout == "e"
    b("kv", "destroy", "-versions=1", "kv2/app/db")
    meta = json.loads(b("kv", "metadata", "get", "-format=json", "kv2/app/db").stdout)
    assert meta["data"]["versions"]["1"]["destroyed"] is True
    b("kv", "metadata", "put", "-max-versions=2", "-custom-metadata=owner=team-a", "kv2/app/db")
    meta = json.loads(b("kv", "metadata", "get", "-format=json", "kv2/app/db").stdout)
    assert meta["data"]["max_versions"] == 2 and meta["data"]["custom_metadata"] == {"owner": "team-a"}
    assert "db" in b("kv", "list", "kv2/app").stdout
    b("kv", "rollback", "-version=2", "kv2/app/db")
    assert b("kv", "get", "-field=pass", "kv2/app/db").stdout == "p2"
    b("kv", "metadata", "delete", "kv2/app/db")
    assert b("kv", "get", "kv2/app/db", check=False).returncode == 2
    b("secrets", "disable", "kv2")
    assert "kv2/" not in b("secrets", "list").stdout


def test_kv_v1(coffer):
    b = coffer.bao
    b("secrets", "enable", "-path=kv1", "-version=1", "kv")
    b("kv", "put", "kv1/app/db", "user=u", "ttl=1h")
    got = json.loads(b("kv", "get", "-format=json", "kv1/app/db").stdout)
    assert got["data"] == {"user": "u", "ttl": "1h"} and got["lease_duration"] == 3600
    assert "db" in b("kv", "list", "kv1/app").stdout
    b("kv", "delete", "kv1/app/db")
    assert b("kv", "get", "kv1/app/db", check=False).returncode == 2


def test_policies_and_tokens(coffer, tmp_path):
    b = coffer.bao
    pol = tmp_path / "app.hcl"
    pol.write_text('path "secret/data/app/*" { capabilities = ["create", "read", "update"] }\n'
                   'path "secret/metadata/app/*" { capabilities = ["list"] }\n')
    b("policy", "write", "app", str(pol))
    assert "app" in b("policy", "list").stdout.split()
    assert 'secret/data/app/*' in b("policy", "read", "app").stdout
    tok = json.loads(b("token", "create", "-policy=app", "-ttl=1h", "-format=json").stdout)["auth"]
    t = tok["client_token"]
    assert tok["policies"] == ["app", "default"]
    b("kv", "put", "secret/app/x", "k=v", token=t)
    assert b("kv", "get", "-field=k", "secret/app/x", token=t).stdout == "v"
    denied = b("kv", "put", "secret/other", "k=v", token=t, check=False)
    assert denied.returncode != 0 and "permission denied" in denied.stderr
    look = json.loads(b("token", "lookup", "-format=json", t).stdout)["data"]
    assert look["policies"] == ["app", "default"] and 3500 < look["ttl"] <= 3600
    b("token", "renew", "-increment=30m", t)
    assert json.loads(b("token", "lookup", "-format=json", t).stdout)["data"]["ttl"] <= 1800
    caps = b("token", "capabilities", t, "secret/data/app/x").stdout
    assert caps.strip() == "create, read, update"
    acc = json.loads(b("token", "create", "-policy=app", "-format=json").stdout)["auth"]["accessor"]
    b("token", "revoke", "-accessor", acc)
    b("token", "revoke", t)
    assert b("token", "lookup", t, check=False).returncode != 0
    b("policy", "delete", "app")
    assert "app" not in b("policy", "list").stdout.split()


def test_child_tokens_are_revoked_with_parent(coffer, tmp_path):
    b = coffer.bao
    pol = tmp_path / "creator.hcl"
    pol.write_text('path "auth/token/create" { capabilities = ["update"] }\n')
    b("policy", "write", "creator", str(pol))
    parent = json.loads(b("token", "create", "-policy=creator", "-format=json").stdout)["auth"]["client_token"]
    child = json.loads(b("token", "create", "-format=json", token=parent).stdout)["auth"]["client_token"]
    orphan = json.loads(b("token", "create", "-orphan", "-format=json").stdout)["auth"]["client_token"]
    b("token", "revoke", parent)
    assert b("token", "lookup", child, check=False).returncode != 0
    assert b("token", "lookup", orphan).returncode == 0


def test_userpass_and_approle_login(coffer):
    b = coffer.bao
    b("auth", "enable", "userpass")
    b("write", "auth/userpass/users/alice", "password=pw", "token_policies=default")
    out = b("login", "-method=userpass", "-format=json", "username=alice", "password=pw", token="")
    auth = json.loads(out.stdout)["auth"]
    assert auth["metadata"] == {"username": "alice"} and auth["policies"] == ["default"]
    bad = b("login", "-method=userpass", "username=alice", "password=nope", token="", check=False)
    assert bad.returncode != 0 and "invalid username or password" in bad.stderr
    b("write", "auth/userpass/users/alice/password", "password=pw2")
    b("login", "-method=userpass", "username=alice", "password=pw2", token="")
    b("auth", "enable", "approle")
    b("write", "auth/approle/role/web", "token_policies=default", "secret_id_num_uses=2", "token_ttl=20m")
    role_id = b("read", "-field=role_id", "auth/approle/role/web/role-id").stdout
    secret_id = b("write", "-f", "-field=secret_id", "auth/approle/role/web/secret-id").stdout
    login = json.loads(b("write", "-format=json", "auth/approle/login", f"role_id={role_id}", f"secret_id={secret_id}", token="").stdout)
    assert login["auth"]["lease_duration"] == 1200 and login["auth"]["metadata"]["role_name"] == "web"
    b("write", "auth/approle/login", f"role_id={role_id}", f"secret_id={secret_id}", token="")
    third = b("write", "auth/approle/login", f"role_id={role_id}", f"secret_id={secret_id}", token="", check=False)
    assert third.returncode != 0 and "invalid role or secret ID" in third.stderr
    listing = b("auth", "list").stdout
    assert "userpass/" in listing and "approle/" in listing and "token/" in listing


def test_audit_list_with_config_device(workdir):
    config = FILE_CONFIG.replace("DATA", f"{workdir}/data") + f'\naudit "file" "file" {{\n  options {{\n    file_path = "{workdir}/audit.log"\n  }}\n}}\n'
    s = start_coffer_config(config, workdir)
    try:
        init = json.loads(s.bao("operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json").stdout)
        s.bao("operator", "unseal", init["unseal_keys_b64"][0])
        s.token = init["root_token"]
        assert "file/" in s.bao("audit", "list").stdout
    finally:
        s.kill()
