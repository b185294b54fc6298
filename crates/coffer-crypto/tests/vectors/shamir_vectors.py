#!/usr/bin/env python3
"""Independent Shamir implementation (log/exp tables, not our constant-time code) that
writes shamir.json: for fixed secrets, x coordinates and coefficients, the shares in
Vault/OpenBao's layout (y bytes per secret byte, then one trailing x byte).

Regenerate with `python3 shamir_vectors.py > shamir.json` (stdlib only, deterministic)."""
import json
import random

# GF(2^8) with the AES polynomial 0x11b; 3 generates the multiplicative group.
EXP = [0] * 510
LOG = [0] * 256
v = 1
for i in range(255):
    EXP[i] = v
    LOG[v] = i
    # v *= 3  ==  v ^ xtime(v)
    x2 = (v << 1) ^ (0x11B if v & 0x80 else 0)
    v = x2 ^ v
for i in range(255, 510):
    EXP[i] = EXP[i - 255]


def mul(a, b):
    if a == 0 or b == 0:
        return 0
    return EXP[LOG[a] + LOG[b]]


def evaluate(coeffs, x):
    """coeffs[0] is the intercept (the secret byte)."""
    y = 0
    for power, c in enumerate(coeffs):
        term = c
        for _ in range(power):
            term = mul(term, x)
        y ^= term
    return y


def case(rng, secret, xs, threshold):
    coefficients = []  # per secret byte: c_1 .. c_{t-1}
    for _ in secret:
        coefficients.extend(rng.randrange(256) for _ in range(threshold - 1))
    shares = []
    for x in xs:
        ys = []
        for i, s in enumerate(secret):
            cs = [s] + coefficients[i * (threshold - 1):(i + 1) * (threshold - 1)]
            ys.append(evaluate(cs, x))
        shares.append(bytes(ys + [x]).hex())
    return {
        "secret": bytes(secret).hex(),
        "threshold": threshold,
        "xs": xs,
        "coefficients": bytes(coefficients).hex(),
        "shares": shares,
    }


def main():
    rng = random.Random(20261122)
    cases = [
        case(rng, list(b"coffer shamir vector"), [1, 2, 3], 2),
        case(rng, [rng.randrange(256) for _ in range(32)], [17, 200, 5, 255, 96], 3),
        case(rng, [0] * 16, [9, 8, 7, 6, 5, 4, 3], 5),
        case(rng, [rng.randrange(256) for _ in range(33)], rng.sample(range(1, 256), 10), 10),
    ]
    print(json.dumps({"generator": "shamir_vectors.py", "field": "GF(2^8) mod 0x11b", "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
