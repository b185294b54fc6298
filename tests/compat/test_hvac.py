"""hvac (the Python Vault client) drives the same features against coffer."""

import hvac
import pytest


@pytest.fixture(scope="module")
def client(coffer):
    c = hvac.Client(url=coffer.addr, token=coffer.token)
    assert c.is_authenticated()
    return c


def test_status(client):
    assert client.sys.is_initialized()
    assert not client.sys.is_sealed()
    assert client.sys.read_health_status(method="GET")["sealed"] is False


def test_kv_v2(client):
    client.secrets.kv.v2.create_or_update_secret(path="hv/app", secret={"a": "1"})
    client.secrets.kv.v2.create_or_update_secret(path="hv/app", secret={"a": "2"}, cas=1)
    got = client.secrets.kv.v2.read_secret_version(path="hv/app", raise_on_deleted_version=True)
    assert got["data"]["data"] == {"a": "2"} and got["data"]["metadata"]["version"] == 2
    client.secrets.kv.v2.patch(path="hv/app", secret={"b": "3"})
    assert client.secrets.kv.v2.read_secret_version(path="hv/app", raise_on_deleted_version=True)["data"]["data"] == {"a": "2", "b": "3"}
    assert client.secrets.kv.v2.list_secrets(path="hv")["data"]["keys"] == ["app"]
    client.secrets.kv.v2.delete_latest_version_of_secret(path="hv/app")
    client.secrets.kv.v2.undelete_secret_versions(path="hv/app", versions=[3])
    client.secrets.kv.v2.destroy_secret_versions(path="hv/app", versions=[1])
    meta = client.secrets.kv.v2.read_secret_metadata(path="hv/app")
    assert meta["data"]["versions"]["1"]["destroyed"] is True
    client.secrets.kv.v2.update_metadata(path="hv/app", max_versions=5, custom_metadata={"team": "x"})
    assert client.secrets.kv.v2.read_secret_metadata(path="hv/app")["data"]["custom_metadata"] == {"team": "x"}
    client.secrets.kv.v2.delete_metadata_and_all_versions(path="hv/app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version(path="hv/app")


def test_kv_v1(client):
    client.sys.enable_secrets_engine("kv", path="hvkv1", options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret(path="x", secret={"n": 1}, mount_point="hvkv1")
    assert client.secrets.kv.v1.read_secret(path="x", mount_point="hvkv1")["data"] == {"n": 1}
    assert client.secrets.kv.v1.list_secrets(path="", mount_point="hvkv1")["data"]["keys"] == ["x"]
    client.secrets.kv.v1.delete_secret(path="x", mount_point="hvkv1")
    client.sys.disable_secrets_engine("hvkv1")


def test_policies(client):
    client.sys.create_or_update_policy(name="hv", policy='path "secret/*" { capabilities = ["read"] }')
    assert "hv" in client.sys.list_policies()["data"]["policies"]
    assert "secret/*" in client.sys.read_policy("hv")["data"]["rules"]
    client.sys.create_or_update_acl_policy(name="hv2", policy='path "x/*" { capabilities = ["list"] }')
    assert client.sys.read_acl_policy("hv2")["data"]["name"] == "hv2"
    client.sys.delete_policy("hv")
    client.sys.delete_acl_policy("hv2")


def test_tokens(client, coffer):
    tok = client.auth.token.create(policies=["default"], ttl="1h", meta={"team": "a"})["auth"]
    look = client.auth.token.lookup(tok["client_token"])["data"]
    assert look["meta"] == {"team": "a"} and look["policies"] == ["default"]
    renewed = client.auth.token.renew(tok["client_token"], increment="10m")["auth"]
    assert renewed["lease_duration"] <= 600
    acc = client.auth.token.lookup_accessor(tok["accessor"])["data"]
    assert acc["id"] == ""
    child = hvac.Client(url=coffer.addr, token=tok["client_token"])
    assert child.auth.token.lookup_self()["data"]["display_name"] == "token-token"  # hvac sends display_name "token"; OpenBao prefixes it too
    client.auth.token.revoke_accessor(tok["accessor"])
    assert not child.is_authenticated()


def test_userpass_and_approle(client, coffer):
    client.sys.enable_auth_method("userpass", path="hvup")
    client.auth.userpass.create_or_update_user("bob", password="pw", policies=["default"], mount_point="hvup")
    login = hvac.Client(url=coffer.addr)
    auth = login.auth.userpass.login("bob", "pw", mount_point="hvup")["auth"]
    assert auth["metadata"]["username"] == "bob" and login.is_authenticated()
    client.sys.enable_auth_method("approle", path="hvar")
    client.auth.approle.create_or_update_approle("svc", token_policies=["default"], mount_point="hvar")
    role_id = client.auth.approle.read_role_id("svc", mount_point="hvar")["data"]["role_id"]
    sec = client.auth.approle.generate_secret_id("svc", metadata={"env": "ci"}, mount_point="hvar")["data"]
    looked = client.auth.approle.read_secret_id("svc", sec["secret_id"], mount_point="hvar")["data"]
    assert looked["metadata"] == {"env": "ci"}
    app = hvac.Client(url=coffer.addr)
    res = app.auth.approle.login(role_id=role_id, secret_id=sec["secret_id"], mount_point="hvar")["auth"]
    assert res["metadata"] == {"role_name": "svc", "env": "ci"} and app.is_authenticated()
    accessors = client.auth.approle.list_secret_id_accessors("svc", mount_point="hvar")["data"]["keys"]
    assert accessors == [sec["secret_id_accessor"]]
    client.auth.approle.destroy_secret_id("svc", sec["secret_id"], mount_point="hvar")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        hvac.Client(url=coffer.addr).auth.approle.login(role_id=role_id, secret_id=sec["secret_id"], mount_point="hvar")


def test_mounts_tune_and_remount(client):
    client.sys.enable_secrets_engine("kv", path="hvtune", options={"version": "2"})
    client.sys.tune_mount_configuration("hvtune", default_lease_ttl="1h", max_lease_ttl="24h")
    tuned = client.sys.read_mount_configuration("hvtune")["data"]
    assert tuned["default_lease_ttl"] == 3600 and tuned["max_lease_ttl"] == 86400
    client.sys.move_backend("hvtune", "hvtuned")
    assert "hvtuned/" in client.sys.list_mounted_secrets_engines()["data"]
    client.sys.disable_secrets_engine("hvtuned")
