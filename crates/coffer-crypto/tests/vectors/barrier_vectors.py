#!/usr/bin/env python3
"""Barrier entry, keyring blob and root-key seal vectors made with an independent
AES-256-GCM implementation (pyca/cryptography), following docs/storage-format.md.

Regenerate: `$COFFER_TEST_VENV/bin/python barrier_vectors.py > barrier.json`
(needs `cryptography`, see ../requirements.txt). Deterministic: fixed keys and nonces."""
import json
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def entry(term, key, nonce, path, plaintext):
    """term u32 BE | 0x02 | nonce(12) | ciphertext | tag(16); AAD = path."""
    return struct.pack(">I", term) + b"\x02" + nonce + AESGCM(key).encrypt(nonce, plaintext, path.encode())


def keyring_blob(active, terms):
    """0x01 | active u32 BE | count u32 BE | (term u32 BE | install_time u64 BE | key(32))*"""
    out = b"\x01" + struct.pack(">II", active, len(terms))
    for term, install_time, key in terms:
        out += struct.pack(">IQ", term, install_time) + key
    return out


def main():
    k1 = bytes(range(32))
    k2 = bytes(range(0xA0, 0xC0))
    root = bytes([0x5A] * 32)
    entries = [
        {"term": 1, "key": k1.hex(), "path": "logical/1f0c/secret/data/app", "plaintext": b'{"password":"s3cr3t"}'.hex(),
         "nonce": "000102030405060708090a0b"},
        {"term": 1, "key": k1.hex(), "path": "core/mounts", "plaintext": "",
         "nonce": "ffffffffffffffffffffffff"},
        {"term": 2, "key": k2.hex(), "path": "sys/token/id/h4sh", "plaintext": bytes(range(256)).hex(),
         "nonce": "0c0b0a090807060504030201"},
    ]
    for e in entries:
        e["entry"] = entry(e["term"], bytes.fromhex(e["key"]), bytes.fromhex(e["nonce"]), e["path"],
                           bytes.fromhex(e["plaintext"])).hex()
    blob = keyring_blob(2, [(1, 1763800000, k1), (2, 1763900000, k2)])
    seal_nonce = bytes.fromhex("aabbccddeeff001122334455")
    sealed = seal_nonce + AESGCM(root).encrypt(seal_nonce, blob, b"core/keyring")
    print(json.dumps({
        "generator": "barrier_vectors.py (pyca/cryptography AESGCM)",
        "entries": entries,
        "keyring": {"blob": blob.hex(), "active": 2, "install_times": [1763800000, 1763900000]},
        "root_seal": {"key": root.hex(), "aad": b"core/keyring".hex(), "sealed": sealed.hex(), "plaintext": blob.hex()},
    }, indent=1))


if __name__ == "__main__":
    main()
