#!/usr/bin/env python3
"""Independent SOPS decryptor written from the spec (not from coffer's code).

Usage: sops_check.py FORMAT FILE   (FORMAT: yaml, json, dotenv, ini, binary)
Identities: SOPS_AGE_KEY_FILE, SOPS_AGE_SSH_PRIVATE_KEY_FILE (ssh-ed25519). Decrypts the data key (age via pyrage, Shamir
for several key groups), every value with AES-256-GCM (cryptography, 32-byte
IV, AAD = path), checks every encrypted YAML comment, recomputes the MAC and
compares it with the stored one. Prints {"documents": [...]} (comments
dropped) as JSON on success; exits 1 with a message otherwise.
"""
import base64
import hashlib
import json
import os
import re
import sys

import pyrage
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")


class CheckError(Exception):
    pass


def aes_open(key, s, aad):
    m = ENC_RE.match(s)
    if not m:
        raise CheckError("not an encrypted value: %r" % s[:40])
    data, iv, tag, typ = (m.group(i) for i in range(1, 5))
    iv = base64.b64decode(iv)
    if len(iv) != 32:
        raise CheckError("iv is %d bytes, sops writes 32" % len(iv))
    pt = AESGCM(key).decrypt(iv, base64.b64decode(data) + base64.b64decode(tag), aad.encode())
    return pt, typ


def typed(pt, typ):
    if typ == "str":
        try:
            return pt.decode()
        except UnicodeDecodeError:
            return {"bytes_b64": base64.b64encode(pt).decode()}
    if typ == "int":
        return int(pt)
    if typ == "float":
        return float(pt)
    if typ == "bool":
        return {b"True": True, b"False": False}[pt]
    if typ == "time":
        return pt.decode()
    if typ == "comment":
        return None
    raise CheckError("unknown type %s" % typ)


def mac_bytes(v):
    if isinstance(v, bool):
        return b"True" if v else b"False"
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e21:
            return str(int(v)).encode()
        return repr(v).encode()
    if isinstance(v, dict):
        return base64.b64decode(v["bytes_b64"])
    return v.encode()


# --- metadata -------------------------------------------------------------

def unflatten(flat):
    root = {}
    for key, value in flat.items():
        parts = re.split(r"(__map_|__list_)", key)
        node, kind = root, None
        tokens = [parts[0]] + [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]
        path = [("map", tokens[0])] + [("list" if m == "__list_" else "map", k) for m, k in tokens[1:]]
        for i, (kind, k) in enumerate(path):
            last = i == len(path) - 1
            nxt = None if last else ({} if path[i + 1][0] == "map" else [])
            if kind == "list":
                k = int(k)
                while len(node) <= k:
                    node.append(None)
                if last:
                    node[k] = value
                elif node[k] is None:
                    node[k] = nxt
                node = node[k]
            else:
                if last:
                    node[k] = value
                else:
                    node.setdefault(k, nxt)
                    node = node[k]
    return root


def groups_of(meta):
    kinds = ["age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"]
    if any(meta.get(k) for k in kinds):
        return [meta]
    return meta.get("key_groups") or []


def vault_open(entry):
    """Decrypts an hc_vault entry with hvac (VAULT_TOKEN from the environment)."""
    import hvac  # only needed for Vault files

    client = hvac.Client(url=entry["vault_address"], token=os.environ["VAULT_TOKEN"])
    resp = client.secrets.transit.decrypt_data(
        name=entry["key_name"], ciphertext=entry["enc"], mount_point=entry["engine_path"]
    )
    return base64.b64decode(resp["data"]["plaintext"])


def data_key(meta):
    ids = []
    key_file = os.environ.get("SOPS_AGE_KEY_FILE")
    with open(key_file or os.devnull) as f:
        for line in f:
            line = line.strip()
            if line.startswith("AGE-SECRET-KEY-"):
                ids.append(pyrage.x25519.Identity.from_str(line))
    ssh_key = os.environ.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    if ssh_key:
        with open(ssh_key, "rb") as f:
            ids.append(pyrage.ssh.Identity.from_buffer(f.read()))
    parts = []
    for g in groups_of(meta):
        for entry in g.get("age") or []:
            try:
                parts.append(pyrage.decrypt(entry["enc"].encode(), ids))
                break
            except Exception:  # noqa: BLE001 - try the next key
                continue
        else:
            for entry in g.get("hc_vault") or []:
                if os.environ.get("VAULT_TOKEN"):
                    parts.append(vault_open(entry))
                    break
    groups = groups_of(meta)
    if len(groups) == 1:
        if not parts:
            raise CheckError("no age identity opens the data key")
        return parts[0]
    threshold = int(meta.get("shamir_threshold") or len(groups))
    if len(parts) < threshold:
        raise CheckError("only %d Shamir shares" % len(parts))
    return shamir_combine(parts[:threshold])


def gf_mul(a, b):
    p = 0
    while b:
        if b & 1:
            p ^= a
        a = ((a << 1) ^ 0x11B) if a & 0x80 else (a << 1)
        b >>= 1
    return p


def gf_inv(a):
    r = 1
    for _ in range(254):
        r = gf_mul(r, a)
    return r


def shamir_combine(shares):
    xs = [s[-1] for s in shares]
    out = bytearray(len(shares[0]) - 1)
    for j, xj in enumerate(xs):
        basis = 1
        for m, xm in enumerate(xs):
            if m != j:
                basis = gf_mul(basis, gf_mul(xm, gf_inv(xm ^ xj)))
        for b in range(len(out)):
            out[b] ^= gf_mul(shares[j][b], basis)
    return bytes(out)


# --- walk -----------------------------------------------------------------

class Walker:
    def __init__(self, key, meta, binary):
        self.key = key
        self.binary = binary
        self.mac_only = str(meta.get("mac_only_encrypted", "")).lower() == "true"
        self.h = hashlib.sha512()
        if self.mac_only:
            self.h.update(hashlib.sha256(b"sops").digest())
        self.meta = meta
        self.containers = {":"}

    def encrypts(self, path):
        m = self.meta
        if self.binary:
            return True
        if m.get("encrypted_regex"):
            return any(re.search(m["encrypted_regex"], p) for p in path)
        if m.get("unencrypted_regex"):
            return not any(re.search(m["unencrypted_regex"], p) for p in path)
        if m.get("encrypted_suffix"):
            return any(p.endswith(m["encrypted_suffix"]) for p in path)
        suffix = m.get("unencrypted_suffix") or "_unencrypted"
        return not any(p.endswith(suffix) for p in path)

    def walk(self, v, path):
        if isinstance(v, dict):
            self.containers.add(":".join(path) + ":")
            return {k: self.walk(x, path + [k]) for k, x in v.items() if True}
        if isinstance(v, list):
            out = []
            for x in v:
                r = self.walk(x, path)
                if r is not COMMENT:
                    out.append(r)
            return out
        if v is None:
            return None
        enc = self.encrypts(path)
        if enc and isinstance(v, str) and v != "":
            pt, typ = aes_open(self.key, v, ":".join(path) + ":")
            if typ == "comment":
                return COMMENT
            val = typed(pt, typ)
            self.h.update(mac_bytes(val))
            return val
        if enc and not isinstance(v, str):
            raise CheckError("cleartext value at %s where the rule requires encryption" % ":".join(path))
        if not self.mac_only:
            self.h.update(mac_bytes(v))
        return v


COMMENT = object()


def load(fmt, text):
    if fmt == "yaml":
        docs = [d for d in yaml.safe_load_all(text)]
        meta = docs[0].pop("sops")
        for d in docs[1:]:
            d.pop("sops", None)
        return docs, meta
    if fmt in ("json", "binary"):
        doc = json.loads(text)
        return [doc], doc.pop("sops")
    if fmt == "dotenv":
        doc, flat = {}, {}
        for line in text.split("\n"):
            if not line or line.startswith("#"):
                continue
            k, v = line.split("=", 1)
            v = v.replace("\\n", "\n")
            if k.startswith("sops_"):
                flat[k[5:]] = v
            else:
                doc[k] = v
        return [doc], unflatten(flat)
    if fmt == "ini":
        doc, section = {}, None
        for line in text.split("\n"):
            line = line.strip()
            if not line or line[0] in ";#":
                continue
            if line.startswith("["):
                section = line[1:-1]
                doc[section] = {}
                continue
            k, v = line.split("=", 1)
            doc.setdefault(section or "DEFAULT", {})[k.strip()] = v.strip()
        flat = {k: v.replace("\\n", "\n") for k, v in doc.pop("sops").items()}
        return [doc], unflatten(flat)
    raise CheckError("unknown format %s" % fmt)


def main():
    fmt, path = sys.argv[1], sys.argv[2]
    text = open(path, encoding="utf-8").read()
    docs, meta = load(fmt, text)
    key = data_key(meta)
    w = Walker(key, meta, fmt == "binary")
    out = [w.walk(d, []) for d in docs]
    stored, _ = aes_open(key, meta["mac"], meta["lastmodified"])
    if stored.decode() != w.h.hexdigest().upper():
        raise CheckError("MAC mismatch")
    checked = 0
    if fmt == "yaml":
        for line in text.split("\n"):
            s = line.strip()
            if s.startswith("#ENC["):
                if not any(_opens(key, s[1:], aad) for aad in w.containers):
                    raise CheckError("comment does not decrypt under any container path")
                checked += 1
    print(json.dumps({"documents": out, "comments_checked": checked}))


def _opens(key, s, aad):
    try:
        return aes_open(key, s, aad)[1] == "comment"
    except Exception:  # noqa: BLE001
        return False


if __name__ == "__main__":
    try:
        main()
    except (CheckError, KeyError, ValueError) as e:
        print("check failed: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
