"""Transit engine: the real `bao` CLI and hvac against coffer, differential
answers against a real OpenBao 2.7.2, cross-decryption (keys exported from
coffer used by Python `cryptography`, plaintext backups restored across
coffer and OpenBao both ways), and bad input that must answer a clear 4xx.

Run: cd tests/compat && COFFER_BIN=/work/main/target/debug/coffer \
     $COFFER_TEST_VENV/bin/python -m pytest -q test_transit.py
"""

import base64
import hashlib
import hmac as pyhmac
import json
import os
import re
from pathlib import Path

import hvac
import pytest
from conftest import start_coffer_config
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

AEAD_TYPES = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "xchacha20-poly1305"]
SIGN_TYPES = ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(s: str) -> bytes:
    return base64.b64decode(s)


@pytest.fixture(scope="module")
def servers(coffer, openbao):
    for s in (coffer, openbao):
        r = s.api("POST", "sys/mounts/transit", {"type": "transit"})
        assert r.status_code in (200, 204), r.text
    return coffer, openbao


def call(server, method, path, body=None, raw=None):
    r = server.api(method, path, body, raw=raw)
    try:
        js = r.json()
    except ValueError:
        js = None
    return r.status_code, js


def both(servers, method, path, body=None, raw=None):
    c, o = servers
    return call(c, method, path, body, raw), call(o, method, path, body, raw)


VOLATILE = re.compile(r"vault:v\d+:[A-Za-z0-9+/=_-]*")


def norm(v, key=None):
    """Ciphertexts, signatures, times and key material differ by design."""
    if isinstance(v, dict):
        return {k: norm(x, k) for k, x in v.items() if k not in ("request_id",)}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str):
        if key in ("creation_time", "time", "public_key", "plaintext", "random_bytes", "backup"):
            return f"<{key}>"
        return VOLATILE.sub(lambda m: m.group(0).split(":")[0] + ":" + m.group(0).split(":")[1] + ":<b64>", v)
    if key in ("time",) or (isinstance(v, int) and v > 1_600_000_000):
        return "<ts>"
    return v


def same(servers, method, path, body=None, raw=None, status=None):
    (cs, cj), (os_, oj) = both(servers, method, path, body, raw)
    assert cs == os_, f"{method} {path}: coffer {cs} {cj} vs openbao {os_} {oj}"
    if status is not None:
        assert cs == status, (cs, cj)
    assert norm(cj) == norm(oj), f"{method} {path}:\ncoffer  {cj}\nopenbao {oj}"
    return cj


# ---------------------------------------------------------------- key shapes

@pytest.mark.parametrize("ktype", AEAD_TYPES + SIGN_TYPES + ["rsa-3072"])
def test_key_create_and_read_shape(servers, ktype):
    name = f"shape-{ktype}"
    created = same(servers, "POST", f"transit/keys/{name}", {"type": ktype, "exportable": True}, status=200)
    assert created["data"]["type"] == ktype
    read = same(servers, "GET", f"transit/keys/{name}", status=200)
    keys = read["data"]["keys"]
    assert list(keys) == ["1"]
    if ktype in AEAD_TYPES:
        assert isinstance(keys["1"], int)
    else:
        assert set(keys["1"]) == {"certificate_chain", "creation_time", "name", "public_key"}


def test_create_with_null_body_returns_key(servers):
    # `bao write -f` sends a literal null; OpenBao 2.7.2 answers the KEY, no warning.
    cj = same(servers, "PUT", "transit/keys/nullbody", raw="null", status=200)
    assert cj["warnings"] is None
    assert cj["data"]["type"] == "aes256-gcm96"
    again = same(servers, "POST", "transit/keys/nullbody", {}, status=200)
    assert again["warnings"] is None and again["data"]["latest_version"] == 1


def test_derived_and_convergent_key_shape(servers):
    body = {"derived": True, "convergent_encryption": True}
    cj = same(servers, "POST", "transit/keys/conv", body, status=200)
    assert cj["data"]["kdf"] == "hkdf_sha256"
    assert cj["data"]["convergent_encryption_version"] == -1


def test_hmac_key_type(servers):
    # OpenBao answers 500 here; coffer keeps the message but says 400 (bad input is never a 5xx).
    (cs, cj), (os_, oj) = both(servers, "POST", "transit/keys/hm-bad", {"type": "hmac"})
    assert (cs, os_) == (400, 500) and cj["errors"] == oj["errors"]
    cj = same(servers, "POST", "transit/keys/hm", {"type": "hmac", "key_size": 64}, status=200)
    assert cj["data"]["key_size"] == 64


def test_list_keys(servers):
    c, o = servers
    for s in servers:
        call(s, "POST", "transit/keys/listed", {})
    cs, cj = call(c, "LIST", "transit/keys")
    assert cs == 200 and "listed" in cj["data"]["keys"]
    os_, oj = call(o, "LIST", "transit/keys")
    assert set(cj["data"]["keys"]) == set(oj["data"]["keys"])


# ---------------------------------------------------- encrypt / decrypt / batch

@pytest.mark.parametrize("ktype", AEAD_TYPES)
def test_encrypt_decrypt_round_trip(servers, ktype):
    c, _ = servers
    name = f"rt-{ktype}"
    call(c, "POST", f"transit/keys/{name}", {"type": ktype})
    pt = b64(b"hello world")
    s, j = call(c, "POST", f"transit/encrypt/{name}", {"plaintext": pt, "associated_data": b64(b"ad")})
    assert s == 200, j
    ct = j["data"]["ciphertext"]
    assert ct.startswith("vault:v1:") and j["data"]["key_version"] == 1
    nonce = 24 if ktype.startswith("x") else 12
    assert len(unb64(ct.split(":", 2)[2])) == nonce + 11 + 16
    s, j = call(c, "POST", f"transit/decrypt/{name}", {"ciphertext": ct, "associated_data": b64(b"ad")})
    assert s == 200 and j["data"]["plaintext"] == pt
    s, j = call(c, "POST", f"transit/decrypt/{name}", {"ciphertext": ct, "associated_data": b64(b"xx")})
    assert s == 400 and "message authentication failed" in j["errors"][0]


def test_encrypt_upserts_missing_key(servers):
    cj = same(servers, "POST", "transit/encrypt/upserted", {"plaintext": b64(b"x")}, status=200)
    assert cj["data"]["key_version"] == 1
    read = same(servers, "GET", "transit/keys/upserted", status=200)
    assert read["data"]["type"] == "aes256-gcm96"
    same(servers, "POST", "transit/encrypt/upserted-chacha", {"plaintext": b64(b"x"), "type": "chacha20-poly1305"}, status=200)
    same(servers, "GET", "transit/keys/upserted-chacha", status=200)


def test_mount_settings_match_openbao(coffer, openbao):
    for s in (coffer, openbao):
        assert call(s, "POST", "sys/mounts/transit-cfg", {"type": "transit"})[0] == 204
    pair = (coffer, openbao)
    same(pair, "GET", "transit-cfg/config/keys", status=200)
    same(pair, "POST", "transit-cfg/config/keys", {"disable_upsert": True}, status=200)
    same(pair, "POST", "transit-cfg/encrypt/not-upserted", {"plaintext": b64(b"x")}, status=400)
    same(pair, "GET", "transit-cfg/keys/not-upserted", status=404)
    same(pair, "POST", "transit-cfg/config/keys", {"disable_upsert": False}, status=200)
    same(pair, "POST", "transit-cfg/encrypt/upserted-now", {"plaintext": b64(b"x")}, status=200)
    same(pair, "GET", "transit-cfg/cache-config", status=200)
    same(pair, "POST", "transit-cfg/cache-config", {"size": 5}, status=400)


def test_acl_create_versus_update_matches_openbao(servers):
    """keys/<k> writes are always `update`; encrypt on a missing key is `create`."""
    policy = '''
path "transit/keys/*" { capabilities = ["update"] }
path "transit/encrypt/*" { capabilities = ["create"] }
'''
    results = []
    for s in servers:
        assert call(s, "PUT", "sys/policies/acl/transit-acl", {"policy": policy})[0] == 204
        tok = call(s, "POST", "auth/token/create", {"policies": ["transit-acl"]})[1]["auth"]["client_token"]
        codes = []
        for method, path, body in (
            ("POST", "transit/keys/acl-k", {}),
            ("POST", "transit/encrypt/acl-new", {"plaintext": b64(b"x")}),
            ("POST", "transit/encrypt/acl-new", {"plaintext": b64(b"x")}),
            ("POST", "transit/encrypt/acl-k", {"plaintext": b64(b"x")}),
        ):
            codes.append(s.api(method, path, body, token=tok).status_code)
        results.append(codes)
    assert results[0] == results[1] == [200, 200, 403, 403], results


def test_batch_encrypt_mixed_results(servers):
    body = {"batch_input": [{"plaintext": b64(b"a")}, {"plaintext": b64(b"b"), "reference": "r2"}, {"plaintext": "!!bad"}]}
    cj = same(servers, "POST", "transit/encrypt/batch", body, status=400)
    results = cj["data"]["batch_results"]
    assert results[1]["reference"] == "r2"
    assert results[2] == {"error": "illegal base64 data at input byte 0", "reference": ""}
    c, _ = servers
    dec = {"batch_input": [{"ciphertext": results[0]["ciphertext"]}, {"ciphertext": "garbage", "reference": "x"}]}
    s, j = call(c, "POST", "transit/decrypt/batch", dec)
    assert s == 400
    assert j["data"]["batch_results"][0] == {"plaintext": b64(b"a"), "reference": ""}
    assert j["data"]["batch_results"][1]["error"] == "invalid ciphertext: no prefix"
    ok = {"batch_input": [{"ciphertext": results[0]["ciphertext"]}, {"ciphertext": results[1]["ciphertext"]}]}
    s, j = call(c, "POST", "transit/decrypt/batch", ok)
    assert s == 200 and [r["plaintext"] for r in j["data"]["batch_results"]] == [b64(b"a"), b64(b"b")]


def test_batch_decrypt_shapes_match_openbao(servers):
    for s in servers:
        call(s, "POST", "transit/keys/bd", {})
    body = {"batch_input": [{"ciphertext": "vault:v1:AAAA"}, {"ciphertext": "nope", "reference": "q"}]}
    same(servers, "POST", "transit/decrypt/bd", body, status=400)


def test_derived_and_convergent_encryption(servers):
    c, o = servers
    ctx = b64(b"tenant-1")
    same(servers, "POST", "transit/keys/dk", {"derived": True})
    same(servers, "POST", "transit/encrypt/dk", {"plaintext": b64(b"x")}, status=400)
    s, j = call(c, "POST", "transit/encrypt/dk", {"plaintext": b64(b"x"), "context": ctx})
    assert s == 200
    ct = j["data"]["ciphertext"]
    s, j = call(c, "POST", "transit/decrypt/dk", {"ciphertext": ct, "context": ctx})
    assert s == 200 and j["data"]["plaintext"] == b64(b"x")
    s, j = call(c, "POST", "transit/decrypt/dk", {"ciphertext": ct, "context": b64(b"other")})
    assert s == 400
    # convergent: same plaintext + context -> same ciphertext
    one = call(c, "POST", "transit/encrypt/conv", {"plaintext": b64(b"same"), "context": ctx})[1]["data"]["ciphertext"]
    two = call(c, "POST", "transit/encrypt/conv", {"plaintext": b64(b"same"), "context": ctx})[1]["data"]["ciphertext"]
    other = call(c, "POST", "transit/encrypt/conv", {"plaintext": b64(b"same"), "context": b64(b"t2")})[1]["data"]["ciphertext"]
    assert one == two != other
    same(servers, "POST", "transit/encrypt/mixctx", {"batch_input": [{"plaintext": "", "context": ctx}, {"plaintext": ""}]}, status=400)


def test_rotate_rewrap_config_min_versions(servers):
    c, _ = servers
    for s in servers:
        call(s, "POST", "transit/keys/rot", {})
    v1 = call(c, "POST", "transit/encrypt/rot", {"plaintext": b64(b"data")})[1]["data"]["ciphertext"]
    rotated = same(servers, "POST", "transit/keys/rot/rotate", None, status=200)
    assert rotated["data"]["latest_version"] == 2 and set(rotated["data"]["keys"]) == {"1", "2"}
    s, j = call(c, "POST", "transit/encrypt/rot", {"plaintext": b64(b"data")})
    assert j["data"]["ciphertext"].startswith("vault:v2:") and j["data"]["key_version"] == 2
    s, j = call(c, "POST", "transit/rewrap/rot", {"ciphertext": v1})
    assert s == 200 and j["data"]["ciphertext"].startswith("vault:v2:")
    v2 = j["data"]["ciphertext"]
    cfg = same(servers, "POST", "transit/keys/rot/config",
               {"min_decryption_version": 2, "min_encryption_version": 2, "deletion_allowed": True}, status=200)
    assert list(cfg["data"]["keys"]) == ["2"]
    s, j = call(c, "POST", "transit/decrypt/rot", {"ciphertext": v1})
    assert (s, j["errors"]) == (400, ["ciphertext or signature version is disallowed by policy (too old)"])
    assert call(c, "POST", "transit/decrypt/rot", {"ciphertext": v2})[1]["data"]["plaintext"] == b64(b"data")
    same(servers, "POST", "transit/encrypt/rot", {"plaintext": b64(b"x"), "key_version": 1}, status=400)
    same(servers, "POST", "transit/keys/rot/config", {"min_decryption_version": 9}, status=400)
    same(servers, "POST", "transit/keys/rot/trim", {"min_available_version": 2}, status=200)
    same(servers, "POST", "transit/keys/rot/trim", {"min_available_version": 1}, status=400)
    same(servers, "DELETE", "transit/keys/rot", status=204)
    same(servers, "GET", "transit/keys/rot", status=404)


def test_config_rules_match_openbao(servers):
    for s in servers:
        call(s, "POST", "transit/keys/cfg", {"exportable": True})
    same(servers, "POST", "transit/keys/cfg/config", {"exportable": False, "allow_plaintext_backup": True}, status=200)
    cj = same(servers, "POST", "transit/keys/cfg/config", {"auto_rotate_period": "2h"}, status=200)
    assert cj["data"]["auto_rotate_period"] == 7200 and cj["data"]["exportable"] is True
    same(servers, "POST", "transit/keys/cfg/config", {"auto_rotate_period": "5m"}, status=400)
    same(servers, "POST", "transit/keys/cfg/config", {"min_decryption_version": -1}, status=400)
    same(servers, "POST", "transit/keys/cfg/config", {"min_encryption_version": 1, "min_decryption_version": 1}, status=200)
    same(servers, "POST", "transit/keys/missing-cfg/config", {"deletion_allowed": True}, status=400)


def test_soft_delete_matches_openbao(servers):
    c, _ = servers
    for s in servers:
        call(s, "POST", "transit/keys/soft", {"exportable": True})
    ct = call(c, "POST", "transit/encrypt/soft", {"plaintext": b64(b"x")})[1]["data"]["ciphertext"]
    same(servers, "POST", "transit/keys/soft/soft-delete", {}, status=405)
    cj = same(servers, "DELETE", "transit/keys/soft/soft-delete", status=200)
    assert cj["data"]["soft_deleted"] is True
    same(servers, "DELETE", "transit/keys/soft/soft-delete", status=200)
    same(servers, "POST", "transit/encrypt/soft", {"plaintext": b64(b"x")}, status=400)
    s, j = call(c, "POST", "transit/decrypt/soft", {"ciphertext": ct})
    assert (s, j["errors"]) == (400, ["refusing to use soft-deleted key"])
    same(servers, "POST", "transit/hmac/soft", {"input": b64(b"x")}, status=400)
    same(servers, "GET", "transit/keys/soft", status=200)
    same(servers, "POST", "transit/keys/soft/soft-delete-restore", {}, status=200)
    same(servers, "POST", "transit/keys/soft/soft-delete-restore", {}, status=200)
    assert call(c, "POST", "transit/decrypt/soft", {"ciphertext": ct})[1]["data"]["plaintext"] == b64(b"x")
    same(servers, "DELETE", "transit/keys/never-there/soft-delete", status=204)


def test_delete_rules(servers):
    for s in servers:
        call(s, "POST", "transit/keys/undeletable", {})
    same(servers, "DELETE", "transit/keys/undeletable", status=400)
    same(servers, "DELETE", "transit/keys/never-existed", status=400)


def test_datakey(servers):
    c, _ = servers
    call(c, "POST", "transit/keys/dkey", {})
    for bits in (128, 256, 512):
        s, j = call(c, "POST", "transit/datakey/plaintext/dkey", {"bits": bits})
        assert s == 200, j
        key = unb64(j["data"]["plaintext"])
        assert len(key) == bits // 8
        back = call(c, "POST", "transit/decrypt/dkey", {"ciphertext": j["data"]["ciphertext"]})[1]
        assert unb64(back["data"]["plaintext"]) == key
    s, j = call(c, "POST", "transit/datakey/wrapped/dkey", {"bits": 128})
    assert s == 200 and "plaintext" not in j["data"]
    for s_ in servers:
        call(s_, "POST", "transit/keys/dkey", {})
    same(servers, "POST", "transit/datakey/wrapped/dkey", {"bits": 100}, status=400)
    same(servers, "POST", "transit/datakey/other/dkey", {}, status=400)
    same(servers, "POST", "transit/datakey/wrapped/missing-key", {}, status=400)


# ------------------------------------------------------------ hmac / hash / random

def test_hmac_and_verify(servers):
    c, _ = servers
    call(c, "POST", "transit/keys/hk", {"exportable": True})
    data = b"message"
    s, j = call(c, "POST", "transit/hmac/hk", {"input": b64(data)})
    assert s == 200
    tag = j["data"]["hmac"]
    key = unb64(call(c, "GET", "transit/export/hmac-key/hk/1")[1]["data"]["keys"]["1"])
    enc = unb64(call(c, "GET", "transit/export/encryption-key/hk/1")[1]["data"]["keys"]["1"])
    assert key != enc
    assert tag == "vault:v1:" + b64(pyhmac.new(key, data, hashlib.sha256).digest())
    s, j = call(c, "POST", "transit/hmac/hk/sha2-512", {"input": b64(data)})
    assert len(unb64(j["data"]["hmac"].split(":")[2])) == 64
    for alg, fn in (("sha3-256", hashlib.sha3_256), ("sha3-512", hashlib.sha3_512), ("sha1", hashlib.sha1), ("sha2-224", hashlib.sha224)):
        s, j = call(c, "POST", f"transit/hmac/hk/{alg}", {"input": b64(data)})
        assert j["data"]["hmac"] == "vault:v1:" + b64(pyhmac.new(key, data, fn).digest()), alg
        body = {"input": b64(data), "hmac": j["data"]["hmac"]}
        assert call(c, "POST", f"transit/verify/hk/{alg}", body)[1]["data"]["valid"] is True
    assert call(c, "POST", "transit/verify/hk", {"input": b64(data), "hmac": tag})[1]["data"]["valid"] is True
    assert call(c, "POST", "transit/verify/hk", {"input": b64(b"other"), "hmac": tag})[1]["data"]["valid"] is False
    s, j = call(c, "POST", "transit/hmac/hk", {"batch_input": [{"input": b64(b"a")}, {"input": "!"}]})
    assert j["data"]["batch_results"][1]["error"].startswith("unable to decode input as base64")


def test_hash_and_random(servers):
    same(servers, "POST", "transit/hash/sha2-256", {"input": b64(b"hello world"), "format": "hex"}, status=200)
    cj = same(servers, "POST", "transit/hash", {"input": b64(b"hello world")}, status=200)
    assert cj["data"]["sum"] == hashlib.sha256(b"hello world").hexdigest()
    same(servers, "POST", "transit/hash/sha2-512", {"input": b64(b"x"), "format": "base64"}, status=200)
    same(servers, "POST", "transit/hash/md5", {"input": b64(b"x")}, status=400)
    same(servers, "POST", "transit/hash/sha1", {"input": b64(b"abc")}, status=400)
    for alg in ("sha3-256", "sha3-384", "sha3-512", "sha2-224"):
        same(servers, "POST", f"transit/hash/{alg}", {"input": b64(b"abc")}, status=200)
    c, _ = servers
    s, j = call(c, "POST", "transit/random/16", {"format": "hex"})
    assert s == 200 and len(j["data"]["random_bytes"]) == 32
    s, j = call(c, "POST", "transit/random", {"bytes": 8})
    assert len(unb64(j["data"]["random_bytes"])) == 8
    s, j = call(c, "POST", "transit/random/platform/4", {})
    assert len(unb64(j["data"]["random_bytes"])) == 4
    same(servers, "POST", "transit/random/16", {"format": "octal"}, status=400)


def shape_of(value):
    """A key export's format, without its secret: PEM label or base64 length."""
    if value.startswith("-----BEGIN"):
        return (value.splitlines()[0], value.endswith("\n"))
    return ("base64", len(unb64(value)))


EXPORTS = [
    ("aes256-gcm96", "encryption-key"), ("aes128-gcm96", "encryption-key"), ("chacha20-poly1305", "hmac-key"),
    ("ed25519", "signing-key"), ("ed25519", "public-key"), ("ecdsa-p256", "signing-key"), ("ecdsa-p256", "public-key"),
    ("ecdsa-p384", "public-key"), ("ecdsa-p521", "signing-key"), ("rsa-2048", "signing-key"), ("rsa-2048", "encryption-key"), ("rsa-2048", "public-key"),
    ("ed25519", "encryption-key"), ("aes256-gcm96", "signing-key"),
]


@pytest.mark.parametrize("ktype,kind", EXPORTS, ids=[f"{k}-{e}" for k, e in EXPORTS])
def test_export_shapes_match_openbao(servers, ktype, kind):
    name = f"ex-{ktype}-{kind}"
    for s in servers:
        call(s, "POST", f"transit/keys/{name}", {"type": ktype, "exportable": True})
        call(s, "POST", f"transit/keys/{name}/rotate", {})
    (cs, cj), (os_, oj) = both(servers, "GET", f"transit/export/{kind}/{name}")
    assert cs == os_, (cj, oj)
    if cs != 200:
        assert cj["errors"] == oj["errors"]
        return
    assert (cj["data"]["name"], cj["data"]["type"]) == (oj["data"]["name"], oj["data"]["type"])
    assert list(cj["data"]["keys"]) == list(oj["data"]["keys"]) == ["1", "2"]
    assert {k: shape_of(v) for k, v in cj["data"]["keys"].items()} == {k: shape_of(v) for k, v in oj["data"]["keys"].items()}
    (cs, cj), (os_, oj) = both(servers, "GET", f"transit/export/{kind}/{name}/latest")
    assert cs == os_ == 200 and list(cj["data"]["keys"]) == list(oj["data"]["keys"]) == ["2"]
    same(servers, "GET", f"transit/export/{kind}/{name}/v9", status=400)


def test_hmac_answers_match_openbao(servers):
    for s in servers:
        call(s, "POST", "transit/keys/hmd", {})
    same(servers, "POST", "transit/hmac/hmd", {"input": b64(b"x")}, status=200)
    same(servers, "POST", "transit/hmac/hmd/sha2-384", {"input": b64(b"x")}, status=200)
    same(servers, "POST", "transit/hmac/hmd", {"batch_input": [{"input": b64(b"a"), "reference": "r"}, {"input": "!"}]}, status=200)
    same(servers, "POST", "transit/hmac/hmd", {"input": "!"}, status=400)
    same(servers, "POST", "transit/hmac/hmd", {"input": b64(b"x"), "key_version": 5}, status=400)
    same(servers, "POST", "transit/verify/hmd", {"input": b64(b"x"), "hmac": "vault:v1:" + b64(b"\0" * 32)}, status=200)
    same(servers, "POST", "transit/verify/hmd", {"input": b64(b"x"), "hmac": "vault:v1:AA==", "signature": "vault:v1:AA=="}, status=400)


# ------------------------------------------------------------------ signatures

def public_key(server, name):
    pem = call(server, "GET", f"transit/keys/{name}")[1]["data"]["keys"]["1"]["public_key"]
    if name.endswith("ed25519"):
        return ed25519.Ed25519PublicKey.from_public_bytes(unb64(pem))
    return serialization.load_pem_public_key(pem.encode())


@pytest.mark.parametrize("ktype", SIGN_TYPES)
def test_sign_verify_checked_by_python(servers, ktype):
    c, _ = servers
    name = f"sig-{ktype}"
    call(c, "POST", f"transit/keys/{name}", {"type": ktype})
    pub = public_key(c, name)
    msg = b"sign me"
    s, j = call(c, "POST", f"transit/sign/{name}", {"input": b64(msg)})
    assert s == 200 and j["data"]["key_version"] == 1, j
    sig = j["data"]["signature"]
    raw = unb64(sig.split(":", 2)[2])
    if ktype == "ed25519":
        assert len(raw) == 64
        pub.verify(raw, msg)
    elif ktype.startswith("ecdsa"):
        pub.verify(raw, msg, ec.ECDSA(hashes.SHA256()))
    else:
        assert len(raw) == 256
        pub.verify(raw, msg, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256())
    assert call(c, "POST", f"transit/verify/{name}", {"input": b64(msg), "signature": sig})[1]["data"]["valid"] is True
    assert call(c, "POST", f"transit/verify/{name}", {"input": b64(b"x"), "signature": sig})[1]["data"]["valid"] is False
    if ktype.startswith("ecdsa"):
        width = {"256": 32, "384": 48, "521": 66}[ktype[-3:]]
        s, j = call(c, "POST", f"transit/sign/{name}/sha2-384", {"input": b64(msg), "marshaling_algorithm": "jws"})
        fixed = base64.urlsafe_b64decode(j["data"]["signature"].split(":", 2)[2] + "==")
        assert len(fixed) == 2 * width
        r, s_ = int.from_bytes(fixed[:width], "big"), int.from_bytes(fixed[width:], "big")
        pub.verify(utils.encode_dss_signature(r, s_), msg, ec.ECDSA(hashes.SHA384()))
        body = {"input": b64(msg), "signature": j["data"]["signature"], "marshaling_algorithm": "jws"}
        assert call(c, "POST", f"transit/verify/{name}/sha2-384", body)[1]["data"]["valid"] is True
        # prehashed: the input is the digest
        digest = hashlib.sha256(msg).digest()
        s, j = call(c, "POST", f"transit/sign/{name}", {"input": b64(digest), "prehashed": True})
        pub.verify(unb64(j["data"]["signature"].split(":", 2)[2]), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    if ktype.startswith("rsa"):
        s, j = call(c, "POST", f"transit/sign/{name}/sha2-512", {"input": b64(msg), "signature_algorithm": "pkcs1v15"})
        pub.verify(unb64(j["data"]["signature"].split(":", 2)[2]), msg, padding.PKCS1v15(), hashes.SHA512())
        # an OpenBao-style maximum-salt PSS signature made by Python verifies in coffer
        py_sig = None  # produced below with the exported private key


def test_rsa_verifies_python_signatures_and_oaep(servers):
    c, _ = servers
    call(c, "POST", "transit/keys/rsa-x", {"type": "rsa-2048", "exportable": True})
    pem = call(c, "GET", "transit/export/signing-key/rsa-x/1")[1]["data"]["keys"]["1"]
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    priv = serialization.load_pem_private_key(pem.encode(), None)
    msg = b"signed elsewhere"
    for salt in (padding.PSS.MAX_LENGTH, padding.PSS.DIGEST_LENGTH):
        sig = priv.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), salt), hashes.SHA256())
        body = {"input": b64(msg), "signature": "vault:v1:" + b64(sig)}
        assert call(c, "POST", "transit/verify/rsa-x", body)[1]["data"]["valid"] is True
    # RSA-OAEP (SHA-256) encryption: Python encrypts, coffer decrypts; and back.
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    ct = priv.public_key().encrypt(b"secret", oaep)
    s, j = call(c, "POST", "transit/decrypt/rsa-x", {"ciphertext": "vault:v1:" + b64(ct)})
    assert s == 200 and unb64(j["data"]["plaintext"]) == b"secret"
    s, j = call(c, "POST", "transit/encrypt/rsa-x", {"plaintext": b64(b"to python")})
    assert priv.decrypt(unb64(j["data"]["ciphertext"].split(":", 2)[2]), oaep) == b"to python"
    # coffer extension: a caller-given OAEP label (sealed-secrets style)
    labelled = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), b"ns/name")
    ct = priv.public_key().encrypt(b"sealed", labelled)
    s, j = call(c, "POST", "transit/decrypt/rsa-x", {"ciphertext": "vault:v1:" + b64(ct), "oaep_label": b64(b"ns/name")})
    assert s == 200 and unb64(j["data"]["plaintext"]) == b"sealed"
    s, j = call(c, "POST", "transit/decrypt/rsa-x", {"ciphertext": "vault:v1:" + b64(ct)})
    assert s == 400
    s, j = call(c, "POST", "transit/decrypt/rsa-x", {"ciphertext": "vault:v1:" + b64(ct), "oaep_label": b64(b"other")})
    assert s == 400


def test_sign_batch_and_errors_match_openbao(servers):
    for s in servers:
        call(s, "POST", "transit/keys/sb", {"type": "ed25519"})
        call(s, "POST", "transit/keys/aes-nosign", {})
    body = {"batch_input": [{"input": b64(b"a"), "reference": "1"}, {"input": "!!"}, {}]}
    same(servers, "POST", "transit/sign/sb", body, status=200)
    same(servers, "POST", "transit/sign/aes-nosign", {"input": b64(b"a")}, status=400)
    same(servers, "POST", "transit/encrypt/sb", {"plaintext": b64(b"a")}, status=400)
    same(servers, "POST", "transit/sign/missing-signer", {"input": b64(b"a")}, status=400)
    same(servers, "POST", "transit/verify/sb", {"input": b64(b"a")}, status=400)
    same(servers, "POST", "transit/verify/sb", {"input": b64(b"a"), "signature": "vault:v1:" + b64(b"\0" * 64)}, status=200)
    same(servers, "POST", "transit/verify/sb", {"input": b64(b"a"), "signature": "nope"}, status=400)


# --------------------------------------------------------------- error texts

ERROR_CASES = [
    ("POST", "transit/decrypt/errk", {"ciphertext": "vault:v1:AAAA"}),
    ("POST", "transit/decrypt/errk", {"ciphertext": "garbage"}),
    ("POST", "transit/decrypt/errk", {"ciphertext": "vault:v9:AAAA"}),
    ("POST", "transit/decrypt/errk", {"ciphertext": "vault:vx:AAAA"}),
    ("POST", "transit/decrypt/errk", {"ciphertext": "vault:v1:***"}),
    ("POST", "transit/decrypt/errk", {}),
    ("POST", "transit/decrypt/no-such-key", {"ciphertext": "vault:v1:AAAA"}),
    ("POST", "transit/encrypt/errk", {"plaintext": "not base64!"}),
    ("POST", "transit/encrypt/errk", {}),
    ("POST", "transit/encrypt/errk", {"plaintext": b64(b"x"), "key_version": 5}),
    ("POST", "transit/keys/errk-bad", {"type": "des"}),
    ("POST", "transit/keys/errk-bad", {"convergent_encryption": True}),
    ("POST", "transit/keys/errk-bad", {"auto_rotate_period": "10m"}),
    ("POST", "transit/keys/errk/config", {"min_encryption_version": 7}),
    ("POST", "transit/keys/no-such-key/rotate", {}),
    ("GET", "transit/export/encryption-key/errk", None),
    ("GET", "transit/export/bogus-type/errk", None),
    ("GET", "transit/backup/errk", None),
    ("POST", "transit/restore", {}),
    ("POST", "transit/hmac/no-such-key", {"input": b64(b"x")}),
    ("POST", "transit/rewrap/errk", {"ciphertext": "garbage"}),
    ("POST", "transit/keys/errk/trim", {}),
    ("GET", "transit/keys", None),
    ("GET", "transit/encrypt/errk", None),
    ("DELETE", "transit/encrypt/errk", None),
    ("POST", "transit/no-such-path", {}),
    ("GET", "transit/keys/no-such-key", None),
    ("POST", "transit/decrypt/errk", {"batch_input": []}),
    ("POST", "transit/rewrap/no-such-key", {"ciphertext": "vault:v1:AAAA"}),
    ("POST", "transit/sign/errk", {"input": b64(b"x"), "hash_algorithm": "sha9"}),
    ("GET", "transit/export/hmac-key/errk/0", None),
    ("GET", "transit/export/hmac-key/no-such-key", None),
    ("POST", "transit/hash/sha2-256", {}),
    ("POST", "transit/hash/sha2-256", {"input": "%%"}),
    ("POST", "transit/random/platform/abc", {}),
    ("POST", "transit/random/nowhere/4", {}),
    ("POST", "transit/keys/errk/config", {"min_encryption_version": 1, "min_decryption_version": 1, "auto_rotate_period": "30m"}),
]


ERROR_CASES += [
    ("POST", "transit/decrypt/errk-ed", {"ciphertext": "vault:v1:AAAA"}),
    ("POST", "transit/datakey/plaintext/errk-ed", {}),
    ("POST", "transit/hmac/errk-hm", {"input": b64(b"x")}),
    ("POST", "transit/hmac/errk-ed/sha2-512", {"input": b64(b"x")}),
    ("GET", "transit/export/public-key/errk", None),
    ("GET", "transit/export/signing-key/errk-rsa", None),
    ("POST", "transit/restore/errk", {"backup": "!!"}),
    ("GET", "transit/backup/no-such-key", None),
    ("POST", "transit/keys/no-such-key/trim", {"min_available_version": 1}),
    ("POST", "transit/keys/errk-new", {"type": "aes256-gcm96", "key_size": 32}),
    ("POST", "transit/keys/errk-new", {"type": "hmac", "key_size": 600}),
    ("POST", "transit/keys/errk-new", {"type": "ecdsa-p256", "derived": True}),
    ("POST", "transit/keys/errk-new", {"type": "ed25519", "derived": True, "convergent_encryption": True}),
    ("POST", "transit/encrypt/errk-new2", {"plaintext": b64(b"x"), "type": "ed25519"}),
    ("POST", "transit/encrypt/errk-new3", {"plaintext": b64(b"x"), "type": "ecdsa-p256"}),
    ("POST", "transit/encrypt/errk", {"plaintext": b64(b"x"), "context": b64(b"c")}),
    ("POST", "transit/encrypt/errk-rsa", {"plaintext": b64(b"x"), "associated_data": b64(b"a")}),
    ("POST", "transit/sign/errk-ed", {"input": b64(b"x"), "key_version": 5}),
    ("POST", "transit/sign/errk-ed", {"input": b64(b"x"), "key_version": -1}),
    ("POST", "transit/verify/errk-ed", {"input": b64(b"x"), "signature": "vault:v2:AAAA"}),
    ("POST", "transit/verify/errk-ed", {"input": b64(b"x"), "signature": "vault:v1:!!"}),
    ("POST", "transit/verify/errk", {"input": b64(b"x"), "hmac": "garbage"}),
    ("POST", "transit/sign/errk-rsa", {"input": b64(b"x"), "signature_algorithm": "bogus"}),
    ("POST", "transit/sign/errk-ed", {"batch_input": [{"input": b64(b"x"), "context": "!!"}]}),
    ("POST", "transit/encrypt/errk", {"batch_input": [{"plaintext": b64(b"x"), "key_version": 3}]}),
    ("POST", "transit/decrypt/errk", {"batch_input": [{"ciphertext": "vault:v1:AAAA", "reference": "z"}], "partial_failure_response_code": 207}),
]


@pytest.mark.parametrize("method,path,body", ERROR_CASES, ids=[f"{m} {p} {b}" for m, p, b in ERROR_CASES])
def test_error_answers_match_openbao(servers, method, path, body):
    for s in servers:
        call(s, "POST", "transit/keys/errk", {})
        call(s, "POST", "transit/keys/errk-ed", {"type": "ed25519"})
        call(s, "POST", "transit/keys/errk-hm", {"type": "hmac", "key_size": 32})
        call(s, "POST", "transit/keys/errk-rsa", {"type": "rsa-2048"})
    (cs, cj), (os_, oj) = both(servers, method, path, body)
    if path.startswith("transit/backup/") and os_ == 500 and "disallowed" in oj["errors"][0]:
        # The catalog records this refusal as a 500; coffer keeps it exactly.
        assert (cs, cj["errors"]) == (os_, oj["errors"])
        return
    assert cs < 500, f"coffer {cs} {cj}"
    if os_ == 500:
        # OpenBao reports some bad input as a server error; coffer answers 400
        # with the same message (without Go's multierror wrapping).
        assert cs == 400, f"coffer {cs} {cj} vs openbao {os_} {oj}"
        assert cj["errors"][0] in oj["errors"][0], f"coffer {cj} vs openbao {oj}"
        return
    assert cs == os_, f"coffer {cs} {cj} vs openbao {os_} {oj}"
    assert norm(cj) == norm(oj), f"coffer {cj} vs openbao {oj}"


BAD_INPUT = [
    ("POST", "transit/encrypt/bad", {"batch_input": [{"plaintext": ""}] * 10_001}),
    ("POST", "transit/encrypt/bad", {"batch_input": "not json"}),
    ("POST", "transit/encrypt/bad", {"batch_input": [1, 2]}),
    ("POST", "transit/encrypt/bad", {"batch_input": []}),
    ("POST", "transit/decrypt/bad", {"ciphertext": "vault:v-1:AAAA"}),
    ("POST", "transit/decrypt/bad", {"ciphertext": "vault:v99999999999999999999:AAAA"}),
    ("POST", "transit/decrypt/bad", {"ciphertext": "vault:v1:" + b64(os.urandom(12))}),
    ("POST", "transit/decrypt/bad", {"ciphertext": {"nested": 1}}),
    ("POST", "transit/encrypt/bad", {"plaintext": b64(b"x"), "key_version": "abc"}),
    ("POST", "transit/sign/bad", {"input": b64(b"x")}),
    ("POST", "transit/sign/bad-ed", {"input": b64(b"x"), "hash_algorithm": "md5"}),
    ("POST", "transit/sign/bad-ed", {"input": b64(b"x"), "marshaling_algorithm": "pem"}),
    ("POST", "transit/verify/bad-ed", {"input": b64(b"x"), "signature": "vault:v1:%%%"}),
    ("POST", "transit/sign/bad-rsa", {"input": b64(b"short"), "prehashed": True}),
    ("POST", "transit/decrypt/bad-rsa", {"ciphertext": "vault:v1:" + b64(b"short")}),
    ("POST", "transit/encrypt/bad-rsa", {"plaintext": b64(b"x" * 400)}),
    ("POST", "transit/random/0", {}),
    ("POST", "transit/datakey/plaintext/bad", {"bits": "abc"}),
    ("POST", "transit/encrypt/bad", {"plaintext": b64(b"x"), "associated_data": "!!"}),
    ("POST", "transit/random/99999999", {}),
    ("POST", "transit/restore/x", {"backup": "bm90IGpzb24="}),
    ("POST", "transit/keys/bad/config", {"min_decryption_version": -1}),
    ("GET", "transit/export/encryption-key/bad-ed", None),
    ("GET", "transit/export/signing-key/bad/latest", None),
]


@pytest.mark.parametrize("method,path,body", BAD_INPUT, ids=[f"{m} {p}" for m, p, _ in BAD_INPUT])
def test_bad_input_is_a_clear_4xx(servers, method, path, body):
    c, _ = servers
    call(c, "POST", "transit/keys/bad", {"exportable": True})
    call(c, "POST", "transit/keys/bad-ed", {"type": "ed25519"})
    call(c, "POST", "transit/keys/bad-rsa", {"type": "rsa-2048"})
    s, j = call(c, method, path, body)
    assert 400 <= s < 500, (s, j)
    msgs = j["errors"] if j and j.get("errors") else [r.get("error", "") for r in j["data"]["batch_results"]]
    assert all(m and m[0].islower() or m.startswith("Field") or m.startswith("'") for m in msgs if m), msgs


GARBAGE_BODIES = [
    {}, {"x": 1}, {"plaintext": 5}, {"plaintext": None}, {"ciphertext": ["a"]}, {"input": {"a": 1}},
    {"batch_input": {"a": 1}}, {"batch_input": [None]}, {"batch_input": [{"plaintext": {"x": 1}}]},
    {"key_version": "x"}, {"key_version": -5}, {"bits": -1}, {"context": "%%"}, {"type": 7},
    {"min_decryption_version": "many"}, {"backup": 12}, {"ciphertext": "vault:v1:" + "A" * 5000},
    {"signature": "vault:v1:", "input": ""}, {"hmac": "vault:v0:", "input": ""}, {"salt_length": "-7"},
]
GARBAGE_PATHS = [
    "transit/keys/gk", "transit/keys/gk/config", "transit/keys/gk/rotate", "transit/keys/gk/trim",
    "transit/encrypt/gk", "transit/decrypt/gk", "transit/rewrap/gk", "transit/datakey/plaintext/gk",
    "transit/hmac/gk", "transit/sign/gk-rsa", "transit/verify/gk-rsa", "transit/verify/gk", "transit/random",
    "transit/hash", "transit/restore", "transit/keys/gk/import", "transit/keys/gk-ec/import_version",
    "transit/sign/gk-ec/sha2-512", "transit/verify/gk-ed",
]


def test_garbage_never_answers_5xx(servers):
    c, _ = servers
    call(c, "POST", "transit/keys/gk", {"exportable": True})
    call(c, "POST", "transit/keys/gk-rsa", {"type": "rsa-2048"})
    call(c, "POST", "transit/keys/gk-ec", {"type": "ecdsa-p256"})
    call(c, "POST", "transit/keys/gk-ed", {"type": "ed25519", "derived": True})
    bad = []
    for path in GARBAGE_PATHS:
        for body in GARBAGE_BODIES:
            s, j = call(c, "POST", path, body)
            if s >= 500:
                bad.append((path, body, s, j))
        s, j = call(c, "POST", path, raw="{not json")
        if s != 400:
            bad.append((path, "{not json", s, j))
    assert not bad, bad[:5]


# ------------------------------------------------------------- cross-decryption

@pytest.mark.parametrize("ktype", ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"])
def test_exported_key_decrypts_in_python_and_back(servers, ktype):
    c, _ = servers
    name = f"exp-{ktype}"
    call(c, "POST", f"transit/keys/{name}", {"type": ktype, "exportable": True})
    key = unb64(call(c, "GET", f"transit/export/encryption-key/{name}/1")[1]["data"]["keys"]["1"])
    assert len(key) == (16 if ktype.startswith("aes128") else 32)
    aead = ChaCha20Poly1305(key) if ktype.startswith("chacha") else AESGCM(key)
    ct = call(c, "POST", f"transit/encrypt/{name}", {"plaintext": b64(b"from coffer"), "associated_data": b64(b"ad")})[1]["data"]["ciphertext"]
    raw = unb64(ct.split(":", 2)[2])
    assert aead.decrypt(raw[:12], raw[12:], b"ad") == b"from coffer"
    nonce = os.urandom(12)
    mine = "vault:v1:" + b64(nonce + aead.encrypt(nonce, b"from python", None))
    assert unb64(call(c, "POST", f"transit/decrypt/{name}", {"ciphertext": mine})[1]["data"]["plaintext"]) == b"from python"


BACKUP_TYPES = ["aes256-gcm96", "aes128-gcm96", "chacha20-poly1305", "xchacha20-poly1305", "ed25519", "hmac"]


@pytest.mark.parametrize("ktype", BACKUP_TYPES)
def test_backup_restore_across_coffer_and_openbao(servers, ktype):
    """coffer backup -> OpenBao restore and OpenBao backup -> coffer restore:
    each side decrypts (or verifies) what the other produced."""
    c, o = servers
    extra = {"key_size": 32} if ktype == "hmac" else {}
    for src, dst, tag in ((c, o, "c2o"), (o, c, "o2c")):
        name = f"bk-{tag}-{ktype}"
        s, j = call(src, "POST", f"transit/keys/{name}", {"type": ktype, "exportable": True, "allow_plaintext_backup": True, **extra})
        assert s == 200, j
        call(src, "POST", f"transit/keys/{name}/rotate", {})
        msg = b64(b"across the fence")
        if ktype == "ed25519":
            made = call(src, "POST", f"transit/sign/{name}", {"input": msg})[1]["data"]["signature"]
        elif ktype == "hmac":
            made = call(src, "POST", f"transit/hmac/{name}", {"input": msg})[1]["data"]["hmac"]
        else:
            made = call(src, "POST", f"transit/encrypt/{name}", {"plaintext": msg})[1]["data"]["ciphertext"]
        s, j = call(src, "GET", f"transit/backup/{name}")
        assert s == 200, j
        s, j = call(dst, "POST", f"transit/restore/{name}", {"backup": j["data"]["backup"]})
        assert s == 204, (tag, s, j)
        read = call(dst, "GET", f"transit/keys/{name}")[1]["data"]
        assert read["latest_version"] == 2 and read["type"] == ktype
        if ktype == "ed25519":
            assert call(dst, "POST", f"transit/verify/{name}", {"input": msg, "signature": made})[1]["data"]["valid"] is True
        elif ktype == "hmac":
            assert call(dst, "POST", f"transit/hmac/{name}", {"input": msg})[1]["data"]["hmac"] == made
        else:
            s, j = call(dst, "POST", f"transit/decrypt/{name}", {"ciphertext": made})
            assert s == 200 and j["data"]["plaintext"] == msg, (tag, j)
        # HMACs with the per-version HMAC key agree too
        if ktype != "hmac":
            h1 = call(src, "POST", f"transit/hmac/{name}", {"input": msg})[1]["data"]["hmac"]
            h2 = call(dst, "POST", f"transit/hmac/{name}", {"input": msg})[1]["data"]["hmac"]
            assert h1 == h2


def test_convergent_derived_ciphertext_identical_after_restore(servers):
    c, o = servers
    body = {"derived": True, "convergent_encryption": True, "exportable": True, "allow_plaintext_backup": True}
    call(o, "POST", "transit/keys/conv-x", body)
    backup = call(o, "GET", "transit/backup/conv-x")[1]["data"]["backup"]
    assert call(c, "POST", "transit/restore/conv-x", {"backup": backup})[0] == 204
    req = {"plaintext": b64(b"deterministic"), "context": b64(b"ctx")}
    ours = call(c, "POST", "transit/encrypt/conv-x", req)[1]["data"]["ciphertext"]
    theirs = call(o, "POST", "transit/encrypt/conv-x", req)[1]["data"]["ciphertext"]
    assert ours == theirs
    for key_type in ("aes256-gcm96",):
        call(o, "POST", "transit/keys/derived-x", {"type": key_type, "derived": True, "exportable": True, "allow_plaintext_backup": True})
        backup = call(o, "GET", "transit/backup/derived-x")[1]["data"]["backup"]
        assert call(c, "POST", "transit/restore/derived-x", {"backup": backup})[0] == 204
        ct = call(o, "POST", "transit/encrypt/derived-x", req)[1]["data"]["ciphertext"]
        assert call(c, "POST", "transit/decrypt/derived-x", {"ciphertext": ct, "context": req["context"]})[1]["data"]["plaintext"] == req["plaintext"]


def test_derived_ed25519_matches_openbao_after_restore(servers):
    """Per-context ed25519 keys (HKDF of the 64-byte key, then the seed) are
    the same in both: derived public keys agree and signatures cross-verify."""
    c, o = servers
    body = {"type": "ed25519", "derived": True, "exportable": True, "allow_plaintext_backup": True}
    call(o, "POST", "transit/keys/ded", body)
    backup = call(o, "GET", "transit/backup/ded")[1]["data"]["backup"]
    assert call(c, "POST", "transit/restore/ded", {"backup": backup})[0] == 204
    ctx = b64(b"tenant-7")
    ours = call(c, "GET", f"transit/keys/ded?context={ctx}")[1]["data"]["keys"]["1"]["public_key"]
    theirs = call(o, "GET", f"transit/keys/ded?context={ctx}")[1]["data"]["keys"]["1"]["public_key"]
    assert ours == theirs and len(unb64(ours)) == 32
    msg = b64(b"derived")
    for signer, checker in ((c, o), (o, c)):
        s, j = call(signer, "POST", "transit/sign/ded", {"input": msg, "context": ctx})
        assert s == 200 and j["data"]["public_key"] == ours, j
        ok = call(checker, "POST", "transit/verify/ded", {"input": msg, "context": ctx, "signature": j["data"]["signature"]})
        assert ok[1]["data"]["valid"] is True
    # OpenBao says 500 ("error deriving key: missing 'context' ..."); coffer the same text as a 400.
    (cs, cj), (os_, oj) = both(servers, "POST", "transit/sign/ded", {"input": msg})
    assert (cs, os_) == (400, 500) and cj["errors"][0] in oj["errors"][0]


@pytest.mark.parametrize("ktype", ["ecdsa-p256", "rsa-2048"])
def test_openbao_signatures_verify_with_exported_public_key(servers, ktype):
    """The other direction for asymmetric keys: coffer's public-key export
    and signatures are what OpenBao clients expect (checked by Python)."""
    c, o = servers
    name = f"pub-{ktype}"
    call(c, "POST", f"transit/keys/{name}", {"type": ktype})
    pem = call(c, "GET", f"transit/export/public-key/{name}/1")[1]["data"]["keys"]["1"]
    pub = serialization.load_pem_public_key(pem.encode())
    sig = call(c, "POST", f"transit/sign/{name}", {"input": b64(b"m")})[1]["data"]["signature"]
    raw = unb64(sig.split(":", 2)[2])
    if ktype.startswith("ecdsa"):
        pub.verify(raw, b"m", ec.ECDSA(hashes.SHA256()))
    else:
        pub.verify(raw, b"m", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        pub.verify(raw, b"n", ec.ECDSA(hashes.SHA256())) if ktype.startswith("ecdsa") else pub.verify(
            raw, b"n", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256())


def wrap_for_openbao(server, pkcs8_der):
    """OpenBao's BYOK format: RSA-OAEP-SHA256(wrapping key, ephemeral AES key) || AES-KWP(ephemeral, key)."""
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

    pem = call(server, "GET", "transit/wrapping_key")[1]["data"]["public_key"]
    wrapping = serialization.load_pem_public_key(pem.encode())
    eph = os.urandom(32)
    wrapped = wrapping.encrypt(eph, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    return b64(wrapped + aes_key_wrap_with_padding(eph, pkcs8_der))


@pytest.mark.parametrize("ktype", ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072"])
def test_exported_signing_key_imported_into_openbao(servers, ktype):
    """A coffer key exported (signing-key) and imported into OpenBao: OpenBao
    verifies coffer's signatures, coffer verifies OpenBao's, and for RSA
    each decrypts the other's RSA-OAEP ciphertexts."""
    c, o = servers
    name = f"imp-{ktype}"
    call(c, "POST", f"transit/keys/{name}", {"type": ktype, "exportable": True})
    exported = call(c, "GET", f"transit/export/signing-key/{name}/1")[1]["data"]["keys"]["1"]
    if ktype == "ed25519":
        priv = ed25519.Ed25519PrivateKey.from_private_bytes(unb64(exported)[:32])
    else:
        priv = serialization.load_pem_private_key(exported.encode(), None)
    pkcs8 = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    s, j = call(o, "POST", f"transit/keys/{name}/import", {"type": ktype, "ciphertext": wrap_for_openbao(o, pkcs8)})
    assert s in (200, 204), j
    ours_pub = call(c, "GET", f"transit/keys/{name}")[1]["data"]["keys"]["1"]["public_key"]
    theirs_pub = call(o, "GET", f"transit/keys/{name}")[1]["data"]["keys"]["1"]["public_key"]
    assert ours_pub.strip() == theirs_pub.strip()
    msg = b64(b"signed on one side, verified on the other")
    variants = [{}]
    if ktype.startswith("ecdsa"):
        variants += [{"marshaling_algorithm": "jws"}, {"hash_algorithm": "sha2-512"}, {"hash_algorithm": "sha2-224"},
                     {"hash_algorithm": "sha3-256"}, {"hash_algorithm": "sha1"}, {"hash_algorithm": "sha3-512", "marshaling_algorithm": "jws"}]
    if ktype.startswith("rsa"):
        variants += [{"signature_algorithm": "pkcs1v15"}, {"hash_algorithm": "sha2-384"}, {"salt_length": "hash"}]
    for extra in variants:
        for signer, checker in ((c, o), (o, c)):
            sig = call(signer, "POST", f"transit/sign/{name}", {"input": msg, **extra})[1]["data"]["signature"]
            s, j = call(checker, "POST", f"transit/verify/{name}", {"input": msg, "signature": sig, **extra})
            assert s == 200 and j["data"]["valid"] is True, (extra, signer.name, j)
    if ktype.startswith("rsa"):
        for enc, dec in ((c, o), (o, c)):
            ct = call(enc, "POST", f"transit/encrypt/{name}", {"plaintext": msg})[1]["data"]["ciphertext"]
            s, j = call(dec, "POST", f"transit/decrypt/{name}", {"ciphertext": ct})
            assert s == 200 and j["data"]["plaintext"] == msg, (enc.name, j)


@pytest.mark.parametrize("ktype", ["aes256-gcm96", "xchacha20-poly1305", "ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-2048"])
def test_openbao_key_imported_into_coffer(servers, ktype):
    """The way back: an OpenBao key exported and imported into coffer
    through coffer's wrapping key decrypts/verifies what OpenBao made."""
    c, o = servers
    name = f"back-{ktype}"
    call(o, "POST", f"transit/keys/{name}", {"type": ktype, "exportable": True})
    kind = "encryption-key" if ktype in AEAD_TYPES else "signing-key"
    exported = call(o, "GET", f"transit/export/{kind}/{name}/1")[1]["data"]["keys"]["1"]
    if ktype in AEAD_TYPES:
        material = unb64(exported)
    else:
        if ktype == "ed25519":
            priv = ed25519.Ed25519PrivateKey.from_private_bytes(unb64(exported)[:32])
        else:
            priv = serialization.load_pem_private_key(exported.encode(), None)
        material = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    s, j = call(c, "POST", f"transit/keys/{name}/import", {"type": ktype, "ciphertext": wrap_for_openbao(c, material)})
    assert s == 204, j
    read = call(c, "GET", f"transit/keys/{name}")[1]["data"]
    assert read["imported_key"] is True and read["imported_key_allow_rotation"] is False
    msg = b64(b"made by openbao")
    if ktype in AEAD_TYPES:
        ct = call(o, "POST", f"transit/encrypt/{name}", {"plaintext": msg})[1]["data"]["ciphertext"]
        assert call(c, "POST", f"transit/decrypt/{name}", {"ciphertext": ct})[1]["data"]["plaintext"] == msg
    else:
        assert read["keys"]["1"]["public_key"].strip() == call(o, "GET", f"transit/keys/{name}")[1]["data"]["keys"]["1"]["public_key"].strip()
        sig = call(o, "POST", f"transit/sign/{name}", {"input": msg})[1]["data"]["signature"]
        assert call(c, "POST", f"transit/verify/{name}", {"input": msg, "signature": sig})[1]["data"]["valid"] is True
    same_status = call(c, "POST", f"transit/keys/{name}/rotate", {})
    assert same_status[0] == 400 and "does not allow rotation" in same_status[1]["errors"][0]
    if ktype in AEAD_TYPES:
        # a second OpenBao version arrives through import_version
        call(o, "POST", f"transit/keys/{name}/rotate", {})
        v2 = unb64(call(o, "GET", f"transit/export/{kind}/{name}/2")[1]["data"]["keys"]["2"])
        s, j = call(c, "POST", f"transit/keys/{name}/import_version", {"ciphertext": wrap_for_openbao(c, v2)})
        assert s == 204, j
        ct = call(o, "POST", f"transit/encrypt/{name}", {"plaintext": msg})[1]["data"]["ciphertext"]
        assert ct.startswith("vault:v2:")
        assert call(c, "POST", f"transit/decrypt/{name}", {"ciphertext": ct})[1]["data"]["plaintext"] == msg


@pytest.mark.parametrize("ktype", ["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-2048"])
def test_public_key_import_matches_openbao(servers, ktype):
    """A public key alone imports into both: OpenBao's signatures verify in
    each, signing and RSA decryption are refused alike, RSA encryption to
    it is decrypted by the private key's holder."""
    c, o = servers
    src = f"pubsrc-{ktype}"
    call(o, "POST", f"transit/keys/{src}", {"type": ktype})
    exported = call(o, "GET", f"transit/export/public-key/{src}/1")[1]["data"]["keys"]["1"]
    if ktype == "ed25519":
        pem = ed25519.Ed25519PublicKey.from_public_bytes(unb64(exported)).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    else:
        pem = exported
    name = f"pubonly-{ktype}"
    for s in servers:
        r = call(s, "POST", f"transit/keys/{name}/import", {"type": ktype, "public_key": pem})
        assert r[0] == 204, (s.name, r)
    read = same(servers, "GET", f"transit/keys/{name}", status=200)
    assert read["data"]["imported_key"] is True
    msg = b64(b"verify only")
    sig = call(o, "POST", f"transit/sign/{src}", {"input": msg})[1]["data"]["signature"]
    same(servers, "POST", f"transit/verify/{name}", {"input": msg, "signature": sig}, status=200)
    assert call(c, "POST", f"transit/verify/{name}", {"input": msg, "signature": sig})[1]["data"]["valid"] is True
    (cs, cj), (os_, oj) = both(servers, "POST", f"transit/sign/{name}", {"input": msg})
    assert cs == 400 and os_ in (400, 500) and cj["errors"][0] in oj["errors"][0]
    if ktype.startswith("rsa"):
        ct = call(c, "POST", f"transit/encrypt/{name}", {"plaintext": msg})[1]["data"]["ciphertext"]
        assert call(o, "POST", f"transit/decrypt/{src}", {"ciphertext": ct})[1]["data"]["plaintext"] == msg
        (cs, cj), (os_, oj) = both(servers, "POST", f"transit/decrypt/{name}", {"ciphertext": ct})
        assert cs == 400 and cj["errors"][0] in oj["errors"][0], (cj, oj)
    same(servers, "GET", f"transit/export/public-key/{name}/1", status=200)


@pytest.mark.parametrize("ktype", ["aes256-gcm96", "chacha20-poly1305", "hmac", "ed25519", "ecdsa-p256", "rsa-2048"])
def test_byok_export_between_coffer_and_openbao(servers, ktype):
    """byok-export both ways with no client-side wrapping: each side imports
    the other's wrapping key as a public RSA key, exports a key wrapped for
    it, and the other side imports and uses it."""
    c, o = servers
    extra = {"key_size": 32} if ktype == "hmac" else {}
    for src, dst, tag in ((c, o, "c2o"), (o, c, "o2c")):
        wrap_name = f"wrap-of-{dst.name}"
        if call(src, "GET", f"transit/keys/{wrap_name}")[0] != 200:
            pem = call(dst, "GET", "transit/wrapping_key")[1]["data"]["public_key"]
            s, j = call(src, "POST", f"transit/keys/{wrap_name}/import", {"type": "rsa-4096", "public_key": pem})
            assert s == 204, (tag, j)
        name = f"byok-{tag}-{ktype}"
        call(src, "POST", f"transit/keys/{name}", {"type": ktype, "exportable": True, **extra})
        s, j = call(src, "GET", f"transit/byok-export/{wrap_name}/{name}/1")
        assert s == 200 and list(j["data"]["keys"]) == ["1"], (tag, j)
        s, j = call(dst, "POST", f"transit/keys/{name}/import", {"type": ktype, "ciphertext": j["data"]["keys"]["1"]})
        assert s == 204, (tag, j)
        msg = b64(b"bring your own key")
        if ktype in ("ed25519", "ecdsa-p256"):
            sig = call(src, "POST", f"transit/sign/{name}", {"input": msg})[1]["data"]["signature"]
            assert call(dst, "POST", f"transit/verify/{name}", {"input": msg, "signature": sig})[1]["data"]["valid"] is True
        elif ktype == "hmac":
            h1 = call(src, "POST", f"transit/hmac/{name}", {"input": msg})[1]["data"]["hmac"]
            assert call(dst, "POST", f"transit/hmac/{name}", {"input": msg})[1]["data"]["hmac"] == h1
        else:
            ct = call(src, "POST", f"transit/encrypt/{name}", {"plaintext": msg})[1]["data"]["ciphertext"]
            assert call(dst, "POST", f"transit/decrypt/{name}", {"ciphertext": ct})[1]["data"]["plaintext"] == msg


def test_byok_export_errors_match_openbao(servers):
    for s in servers:
        call(s, "POST", "transit/keys/byok-aes", {"exportable": True})
        call(s, "POST", "transit/keys/byok-locked", {})
        call(s, "POST", "transit/keys/byok-rsa", {"type": "rsa-2048"})
    for path in ("transit/byok-export/byok-aes/byok-aes", "transit/byok-export/byok-rsa/byok-locked",
                 "transit/byok-export/nope/byok-aes", "transit/byok-export/byok-rsa/nope",
                 "transit/byok-export/byok-rsa/byok-aes/9"):
        (cs, cj), (os_, oj) = both(servers, "GET", path)
        assert cs < 500 and (cs == os_ or os_ == 500), (path, cj, oj)
        assert cj["errors"][0] in oj["errors"][0], (path, cj, oj)


IMPORT_ERRORS = [
    ("imp-err-existing", {"ciphertext": "AAAA"}),
    ("imp-err-short", {"ciphertext": b64(b"x" * 100)}),
    ("imp-err-conv", {"ciphertext": b64(b"x" * 600), "convergent_encryption": True}),
    ("imp-err-empty", {}),
    ("imp-err-pub-aes", {"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}),
    ("imp-err-pub-bad", {"type": "ecdsa-p256", "public_key": "not pem"}),
    ("imp-err-type", {"type": "des", "ciphertext": b64(b"x" * 600)}),
]


def test_import_version_errors_are_4xx(servers):
    c, _ = servers
    call(c, "POST", "transit/keys/not-imported", {})
    for name, body in (("not-imported", {"ciphertext": b64(b"x" * 600)}), ("absent-key", {"ciphertext": b64(b"x" * 600)})):
        s, j = call(c, "POST", f"transit/keys/{name}/import_version", body)
        assert 400 <= s < 500 and j["errors"], (s, j)


@pytest.mark.parametrize("name,body", IMPORT_ERRORS, ids=[n for n, _ in IMPORT_ERRORS])
def test_import_errors_are_4xx(servers, name, body):
    c, o = servers
    call(c, "POST", "transit/keys/imp-err-existing", {})
    s, j = call(c, "POST", f"transit/keys/{name}/import", body)
    assert 400 <= s < 500 and j["errors"], (s, j)


# ----------------------------------------------------------- persistence

FILE_CONFIG = """
listener "tcp" {
  address = "127.0.0.1:PORT"
  tls_disable = true
}
storage "file" {
  path = "DATA"
}
"""


def test_keys_survive_seal_and_restart(workdir):
    """Keys live in the barrier: after seal/unseal (the in-memory cache is
    dropped) and after a restart, rotated keys still decrypt and verify."""
    config = FILE_CONFIG.replace("DATA", f"{workdir}/data")
    s = start_coffer_config(config, workdir)
    init = s.api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="").json()
    unseal_key = init["keys_base64"][0]
    s.api("PUT", "sys/unseal", {"key": unseal_key}, token="")
    s.token = init["root_token"]
    try:
        assert call(s, "POST", "sys/mounts/transit", {"type": "transit"})[0] == 204
        call(s, "POST", "transit/keys/p", {})
        call(s, "POST", "transit/keys/p/rotate", {})
        call(s, "POST", "transit/keys/ps", {"type": "ecdsa-p256"})
        ct = call(s, "POST", "transit/encrypt/p", {"plaintext": b64(b"kept")})[1]["data"]["ciphertext"]
        sig = call(s, "POST", "transit/sign/ps", {"input": b64(b"kept")})[1]["data"]["signature"]
        assert ct.startswith("vault:v2:")
        assert s.api("PUT", "sys/seal").status_code == 204
        assert call(s, "POST", "transit/decrypt/p", {"ciphertext": ct})[0] == 503
        s.api("PUT", "sys/unseal", {"key": unseal_key}, token="")
        assert call(s, "POST", "transit/decrypt/p", {"ciphertext": ct})[1]["data"]["plaintext"] == b64(b"kept")
    finally:
        s.kill()
    s2 = start_coffer_config(config, workdir)
    try:
        s2.api("PUT", "sys/unseal", {"key": unseal_key}, token="")
        s2.token = init["root_token"]
        assert call(s2, "POST", "transit/decrypt/p", {"ciphertext": ct})[1]["data"]["plaintext"] == b64(b"kept")
        assert call(s2, "GET", "transit/keys/p")[1]["data"]["latest_version"] == 2
        body = {"input": b64(b"kept"), "signature": sig}
        assert call(s2, "POST", "transit/verify/ps", body)[1]["data"]["valid"] is True
        raw = (Path(workdir) / "data")
        blob = b"".join(f.read_bytes() for f in raw.rglob("*") if f.is_file())
        exported_free = b"kept" not in blob and b"aes256-gcm96" not in blob
        assert exported_free, "transit key entries must be encrypted at rest"
    finally:
        s2.kill()


# --------------------------------------------------------------- real clients

def bao_json(server, *args):
    return json.loads(server.bao(args[0], "-format=json", *args[1:]).stdout)


def test_bao_cli(coffer):
    coffer.bao("secrets", "enable", "-path=clitransit", "transit")
    coffer.bao("write", "-f", "clitransit/keys/k1")
    coffer.bao("write", "clitransit/keys/k-ed", "type=ed25519")
    pt = b64(b"cli data\n")
    out = bao_json(coffer, "write", "clitransit/encrypt/k1", f"plaintext={pt}")
    ct = out["data"]["ciphertext"]
    assert ct.startswith("vault:v1:")
    out = bao_json(coffer, "write", "clitransit/decrypt/k1", f"ciphertext={ct}")
    assert out["data"]["plaintext"] == pt
    coffer.bao("write", "-f", "clitransit/keys/k1/rotate")
    out = bao_json(coffer, "write", "clitransit/rewrap/k1", f"ciphertext={ct}")
    assert out["data"]["ciphertext"].startswith("vault:v2:")
    out = bao_json(coffer, "read", "clitransit/keys/k1")
    assert out["data"]["latest_version"] == 2
    listed = json.loads(coffer.bao("list", "-format=json", "clitransit/keys").stdout)
    assert set(listed) >= {"k1", "k-ed"}
    sig = bao_json(coffer, "write", "clitransit/sign/k-ed", f"input={pt}")["data"]["signature"]
    ok = bao_json(coffer, "write", "clitransit/verify/k-ed", f"input={pt}", f"signature={sig}")
    assert ok["data"]["valid"] is True
    table = coffer.bao("write", "clitransit/encrypt/k1", f"plaintext={pt}").stdout
    assert "ciphertext" in table and "key_version" in table
    bad = coffer.bao("write", "clitransit/decrypt/k1", "ciphertext=garbage", check=False)
    assert bad.returncode != 0 and "invalid ciphertext: no prefix" in bad.stderr
    coffer.bao("write", "clitransit/keys/k-rsa", "type=rsa-2048", "exportable=true")
    sig = bao_json(coffer, "write", "clitransit/sign/k-rsa", f"input={pt}", "hash_algorithm=sha2-384",
                   "signature_algorithm=pkcs1v15")["data"]["signature"]
    ok = bao_json(coffer, "write", "clitransit/verify/k-rsa/sha2-384", f"input={pt}", f"signature={sig}",
                  "signature_algorithm=pkcs1v15")
    assert ok["data"]["valid"] is True
    pem = coffer.bao("read", "-field=keys", "-format=json", "clitransit/export/public-key/k-rsa/1").stdout
    assert "BEGIN PUBLIC KEY" in json.loads(pem)["1"]
    mac = bao_json(coffer, "write", "clitransit/hmac/k1/sha2-512", f"input={pt}")["data"]["hmac"]
    assert bao_json(coffer, "write", "clitransit/verify/k1/sha2-512", f"input={pt}", f"hmac={mac}")["data"]["valid"] is True
    rnd = bao_json(coffer, "write", "clitransit/random/16", "format=hex")["data"]["random_bytes"]
    assert len(rnd) == 32
    digest = bao_json(coffer, "write", "clitransit/hash/sha2-256", f"input={pt}")["data"]["sum"]
    assert digest == hashlib.sha256(b"cli data\n").hexdigest()
    dk = bao_json(coffer, "write", "-f", "clitransit/datakey/plaintext/k1")["data"]
    assert dk["ciphertext"].startswith("vault:v2:") and len(unb64(dk["plaintext"])) == 32
    coffer.bao("write", "clitransit/keys/k1/config", "deletion_allowed=true", "min_decryption_version=2")
    coffer.bao("delete", "clitransit/keys/k1")
    gone = coffer.bao("read", "clitransit/keys/k1", check=False)
    assert gone.returncode != 0


def test_hvac_transit(coffer):
    client = hvac.Client(url=coffer.addr, token=coffer.token)
    client.sys.enable_secrets_engine("transit", path="hvtransit")
    t = client.secrets.transit
    t.create_key("hk", key_type="aes256-gcm96", exportable=True, mount_point="hvtransit")
    assert t.read_key("hk", mount_point="hvtransit")["data"]["type"] == "aes256-gcm96"
    assert "hk" in t.list_keys(mount_point="hvtransit")["data"]["keys"]
    ct = t.encrypt_data("hk", b64(b"hvac"), mount_point="hvtransit")["data"]["ciphertext"]
    assert t.decrypt_data("hk", ct, mount_point="hvtransit")["data"]["plaintext"] == b64(b"hvac")
    t.rotate_key("hk", mount_point="hvtransit")
    assert t.rewrap_data("hk", ct, mount_point="hvtransit")["data"]["ciphertext"].startswith("vault:v2:")
    batch = t.encrypt_data("hk", "", batch_input=[{"plaintext": b64(b"1")}, {"plaintext": b64(b"2")}], mount_point="hvtransit")
    assert len(batch["data"]["batch_results"]) == 2
    dk = t.generate_data_key("hk", "plaintext", bits=256, mount_point="hvtransit")
    assert len(unb64(dk["data"]["plaintext"])) == 32
    mac = t.generate_hmac("hk", b64(b"m"), algorithm="sha2-256", mount_point="hvtransit")["data"]["hmac"]
    assert t.verify_signed_data("hk", b64(b"m"), hmac=mac, mount_point="hvtransit")["data"]["valid"]
    t.create_key("hs", key_type="ecdsa-p256", mount_point="hvtransit")
    sig = t.sign_data("hs", b64(b"m"), hash_algorithm="sha2-256", mount_point="hvtransit")["data"]["signature"]
    assert t.verify_signed_data("hs", b64(b"m"), signature=sig, hash_algorithm="sha2-256", mount_point="hvtransit")["data"]["valid"]
    assert len(t.generate_random_bytes(n_bytes=16, mount_point="hvtransit")["data"]["random_bytes"]) == 24
    assert t.hash_data(b64(b"abc"), algorithm="sha2-256", output_format="hex", mount_point="hvtransit")["data"]["sum"] == hashlib.sha256(b"abc").hexdigest()
    assert "1" in t.export_key("hk", "encryption-key", mount_point="hvtransit")["data"]["keys"]
    t.update_key_configuration("hk", deletion_allowed=True, mount_point="hvtransit")
    t.delete_key("hk", mount_point="hvtransit")
    with pytest.raises(hvac.exceptions.InvalidPath):
        t.read_key("hk", mount_point="hvtransit")
