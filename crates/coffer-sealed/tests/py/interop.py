#!/usr/bin/env python3
"""Drives two independent implementations for coffer-sealed's interop tests.

    interop.py unseal COMPAT_DIR KEY.pem[,KEY.pem...] FILE...
        unseal each SealedSecret document (JSON or YAML, multi-doc) with verify.py's own
        implementation and with kubesealpy's Unsealer; print one JSON line per document:
        {"verify": {item: b64}, "kubesealpy": {item: b64}} (or {"error": "..."}).
    interop.py seal CERT.pem SCOPE NAMESPACE NAME
        read {item: b64} JSON on stdin, seal it with kubesealpy, print the SealedSecret YAML.
    interop.py raw CERT.pem SCOPE NAMESPACE NAME B64VALUE
        seal one value with kubesealpy; print its base64.
"""
import base64
import json
import sys

import yaml


def load_keys(paths):
    from cryptography.hazmat.primitives import serialization
    return [serialization.load_pem_private_key(open(p, "rb").read(), None) for p in paths.split(",")]


def cmd_unseal(compat, keys, files):
    sys.path.insert(0, compat)
    import verify  # the independent checker shipped with the vectors
    from kubesealpy import Unsealer
    from kubesealpy.models import SealedSecret

    keys = load_keys(keys)
    for f in files:
        for doc in yaml.safe_load_all(open(f)):
            if not doc:
                continue
            out = {}
            try:
                out["verify"] = {k: base64.b64encode(v).decode() for k, v in verify.unseal(doc, keys).items()}
                ss = SealedSecret.model_validate(doc)
                sec = Unsealer(keys).unseal(ss)
                out["kubesealpy"] = dict(sec.data or {})
            except Exception as e:  # noqa: BLE001
                out = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(out, sort_keys=True))


def scope_of(s):
    from kubesealpy import SealingScope
    return {"strict": SealingScope.STRICT, "namespace-wide": SealingScope.NAMESPACE_WIDE,
            "cluster-wide": SealingScope.CLUSTER_WIDE}[s]


def cmd_seal(cert, scope, ns, name):
    from kubesealpy import Sealer
    sealer = Sealer.from_certificate_pem(open(cert, "rb").read())
    data = {k: base64.b64decode(v) for k, v in json.load(sys.stdin).items()}
    ss = sealer.seal(name=name, namespace=ns, data=data, scope=scope_of(scope))
    print(ss.to_yaml())


def cmd_raw(cert, scope, ns, name, value):
    from kubesealpy import Sealer
    sealer = Sealer.from_certificate_pem(open(cert, "rb").read())
    blob = sealer.seal_value(base64.b64decode(value), namespace=ns or None, name=name or None, scope=scope_of(scope))
    sys.stdout.write(base64.b64encode(blob).decode())


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "unseal":
        cmd_unseal(args[0], args[1], args[2:])
    elif cmd == "seal":
        cmd_seal(*args)
    elif cmd == "raw":
        cmd_raw(*args)
    else:
        sys.exit(f"unknown command {cmd}")
