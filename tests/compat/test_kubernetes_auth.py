"""Kubernetes auth (`auth/kubernetes`) against coffer and, as a differential
oracle, the real OpenBao 2.7.2: configuration and roles, login through
TokenReview and through `pem_keys`, every refusal (expired, wrong audience,
namespace, name, signature, issuer, unauthenticated review, unreachable or
untrusted API server, no config yet), namespace selectors, the `bao` CLI,
`bao agent` auto-auth and hvac.

A stand-in Kubernetes API server is part of this module. No kube-apiserver can
run here, so it serves the two endpoints the auth method calls,
`POST /apis/authentication.k8s.io/v1/tokenreviews` and
`GET /api/v1/namespaces/<ns>`, with the real v1
TokenReview JSON (201, `status.user.username = system:serviceaccount:<ns>:<name>`,
`status.audiences`, a v1 `Status` 401 for a bad bearer), over TLS with a
throwaway CA made with `cryptography`. Service account JWTs are signed with
real RSA (RS256) and EC P-256 (ES256) keys.

A token is "known to the cluster" once `issue()` made it; anything else is
answered `authenticated: false`, as the API server does for a token it did
not sign. Every request is recorded for the tests to inspect."""

import base64
import datetime
import json
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import socket

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509.oid import NameOID
except ImportError as e:  # fail loudly, never skip
    raise RuntimeError("the kubernetes auth tests need `cryptography` in $COFFER_TEST_VENV: "
                       "pip install -r tests/compat/requirements-kubernetes.txt") from e

API_AUDIENCE = "https://kubernetes.default.svc"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """A service-account signing key: RSA 2048 (RS256/RS384/RS512) or ECDSA
    P-256/P-384/P-521 (ES256/ES384/ES512)."""

    HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
    CURVES = {"ES256": (ec.SECP256R1, 32), "ES384": (ec.SECP384R1, 48), "ES512": (ec.SECP521R1, 66)}

    def __init__(self, kind="RS256"):
        self.alg = kind
        if kind.startswith("RS"):
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif kind in self.CURVES:
            self.key = ec.generate_private_key(self.CURVES[kind][0]())
        else:
            raise ValueError(kind)

    def public_pem(self):
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def certificate_pem(self):
        """A self-signed certificate carrying this key (pem_keys accepts certificates)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "service-account-signer")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1)).sign(self.key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, claims, alg=None):
        header = {"alg": alg or self.alg, "kid": "test-key"}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        digest = self.HASHES[self.alg[2:]]()
        if self.alg.startswith("RS"):
            sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), digest)
        else:
            der = self.key.sign(signing_input.encode(), ec.ECDSA(digest))
            r, s = decode_dss_signature(der)
            size = self.CURVES[self.alg][1]
            sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return f"{signing_input}.{b64url(sig)}"


def projected_claims(ns, name, uid, aud=(API_AUDIENCE,), lifetime=3600, now=None, issuer="https://kubernetes.default.svc.cluster.local"):
    """The claims of a projected (bound) service account token, as kubelet gets them."""
    now = int(time.time()) if now is None else now
    return {
        "aud": list(aud),
        "exp": now + lifetime,
        "iat": now,
        "iss": issuer,
        "kubernetes.io": {
            "namespace": ns,
            "pod": {"name": f"{name}-pod", "uid": "pod-" + uid},
            "serviceaccount": {"name": name, "uid": uid},
        },
        "nbf": now,
        "sub": f"system:serviceaccount:{ns}:{name}",
    }


def legacy_claims(ns, name, uid, secret):
    """The claims of a legacy secret-based token (no aud, no exp)."""
    return {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": ns,
        "kubernetes.io/serviceaccount/secret.name": secret,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "sub": f"system:serviceaccount:{ns}:{name}",
    }


def make_ca_and_leaf(workdir):
    """A CA and a 127.0.0.1 server certificate signed by it; returns (ca_pem, cert_path, key_path)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test kubernetes CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    d = Path(workdir)
    cert_path, key_path = d / "apiserver.crt", d / "apiserver.key"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM).decode(), str(cert_path), str(key_path)


class FakeApiServer:
    """TokenReview endpoint on 127.0.0.1 (TLS unless tls=False)."""

    def __init__(self, reviewer_token, tls=True):
        self.reviewer_token = reviewer_token
        self.known = {}          # jwt -> (ns, name, uid, token audiences)
        self.namespaces = {"default": {}, "prod-a": {"stage": "prod", "team": "a"}, "dev-b": {"stage": "dev"}}
        self.requests = []       # (path, headers dict, body dict)
        self.connections = 0
        self.workdir = tempfile.mkdtemp(prefix="fake-k8s-")
        self.ca_pem, cert, key = make_ca_and_leaf(self.workdir)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def setup(self):
                fake.connections += 1
                super().setup()

            def reply(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, None))
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if bearer != fake.reviewer_token:
                    return self.reply(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
                ns = self.path.removeprefix("/api/v1/namespaces/")
                if ns not in fake.namespaces:
                    return self.reply(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                            "message": f'namespaces "{ns}" not found', "reason": "NotFound",
                                            "details": {"name": ns, "kind": "namespaces"}, "code": 404})
                self.reply(200, {"kind": "Namespace", "apiVersion": "v1",
                                 "metadata": {"name": ns, "uid": "ns-" + ns, "labels": fake.namespaces[ns]},
                                 "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
                    return self.reply(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                            "message": "the server could not find the requested resource",
                                            "reason": "NotFound", "code": 404})
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if bearer != fake.reviewer_token and bearer not in fake.known:
                    return self.reply(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
                self.reply(201, fake.review(body or {}))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def review(self, body):
        """Answers as kube-apiserver's TokenReview REST handler does."""
        spec = body.get("spec") or {}
        token = spec.get("token", "")
        want = spec.get("audiences") or [API_AUDIENCE]
        out = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": spec, "status": {"user": {}}}
        ident = self.known.get(token)
        if ident is None:
            out["status"] = {"user": {}, "error": "[invalid bearer token, square/go-jose: error in cryptographic primitive]"}
            return out
        ns, name, uid, token_aud = ident
        matched = [a for a in want if a in token_aud]
        if not matched:
            out["status"] = {"user": {}, "error": f"[invalid bearer token, token audiences {token_aud} is invalid for the target audiences {want}]"}
            return out
        out["status"] = {
            "authenticated": True,
            "user": {"username": f"system:serviceaccount:{ns}:{name}", "uid": uid,
                     "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
                     "extra": {"authentication.kubernetes.io/pod-name": [f"{name}-pod"]}},
            "audiences": matched,
        }
        return out

    def issue(self, signer, claims):
        """Signs claims and registers the token as one the cluster issued."""
        jwt = signer.sign(claims)
        k8s = claims.get("kubernetes.io")
        if k8s:
            sa = k8s.get("serviceaccount") or {}
            ident = (k8s.get("namespace", ""), sa.get("name", ""), sa.get("uid", ""))
        else:
            ident = (claims.get("kubernetes.io/serviceaccount/namespace", ""),
                     claims.get("kubernetes.io/serviceaccount/service-account.name", ""),
                     claims.get("kubernetes.io/serviceaccount/service-account.uid", ""))
        aud = claims.get("aud") or [API_AUDIENCE]
        self.known[jwt] = (*ident, aud if isinstance(aud, list) else [aud])
        return jwt

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------

import itertools
import os

import pytest

REVIEWER = "reviewer-" + "r" * 40
_mounts = itertools.count()


@pytest.fixture(scope="module")
def apiserver():
    s = FakeApiServer(REVIEWER)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def rsa_signer():
    return Signer("RS256")


@pytest.fixture(scope="module")
def ec_signer():
    return Signer("ES256")


def fresh_mount(server):
    """Enables kubernetes auth at a new path and returns that path."""
    path = f"k8s{next(_mounts)}"
    r = server.api("POST", f"sys/auth/{path}", {"type": "kubernetes"})
    assert r.status_code == 204, r.text
    return path


def configure(server, path, apiserver, **extra):
    body = {"kubernetes_host": apiserver.url, "kubernetes_ca_cert": apiserver.ca_pem,
            "token_reviewer_jwt": REVIEWER, "disable_local_ca_jwt": True}
    body.update(extra)
    r = server.api("POST", f"auth/{path}/config", body)
    assert r.status_code == 204, r.text


def make_role(server, path, name="app", **extra):
    body = {"bound_service_account_names": ["app"], "bound_service_account_namespaces": ["default"],
            "token_policies": ["app"], "token_ttl": "1h"}
    body.update(extra)
    body = {k: v for k, v in body.items() if v is not None}
    r = server.api("POST", f"auth/{path}/role/{name}", body)
    assert r.status_code in (200, 204), r.text


def login(server, path, role, jwt):
    r = server.api("POST", f"auth/{path}/login", {"role": role, "jwt": jwt}, token="")
    return r.status_code, r.json() if r.content else None


def errors(result):
    status, body = result
    return status, (body or {}).get("errors")


@pytest.fixture(params=["coffer", "openbao"])
def server(request):
    """Each behaviour test runs against coffer and the real OpenBao 2.7.2."""
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------
# Configuration and roles
# --------------------------------------------------------------------------

def test_config_validation_and_read_shape(coffer, openbao, apiserver):
    def run(s):
        path = fresh_mount(s)
        out = [s.api("GET", f"auth/{path}/config").status_code]
        r = s.api("POST", f"auth/{path}/config", {"kubernetes_host": ""})
        out.append((r.status_code, r.json()))
        r = s.api("POST", f"auth/{path}/config", {"kubernetes_host": apiserver.url, "token_reviewer_jwt": REVIEWER,
                                                  "disable_local_ca_jwt": True})
        out.append((r.status_code, r.json()))
        # Outside a pod, the local CA file is missing: OpenBao refuses the write.
        r = s.api("POST", f"auth/{path}/config", {"kubernetes_host": apiserver.url})
        out.append((r.status_code, r.json()))
        configure(s, path, apiserver)
        out.append(s.api("GET", f"auth/{path}/config").json()["data"])
        r = s.api("POST", f"auth/{path}/config", {"kubernetes_host": apiserver.url, "kubernetes_ca_cert": apiserver.ca_pem,
                                                  "disable_local_ca_jwt": True, "pem_keys": ["garbage"]})
        out.append(r.status_code)
        return out

    mine, theirs = run(coffer), run(openbao)
    assert mine == theirs
    assert mine[0] == 404
    assert mine[1] == (400, {"errors": ["no host provided"]})
    assert mine[2] == (400, {"errors": ["kubernetes_ca_cert must be given when disable_local_ca_jwt is true"]})
    assert mine[4]["token_reviewer_jwt_set"] is True and "token_reviewer_jwt" not in mine[4]
    assert mine[4]["disable_iss_validation"] is True and mine[4]["pem_keys"] == []


def test_role_crud_and_validation(coffer, openbao):
    def run(s):
        path = fresh_mount(s)
        out = [s.api("LIST", f"auth/{path}/role").status_code]
        make_role(s, path, "app", audience="")
        make_role(s, path, "Web", bound_service_account_names="web-*,api", bound_service_account_namespaces="*",
                  audience="vault", alias_name_source="serviceaccount_name", token_max_ttl="2h")
        out.append(s.api("GET", f"auth/{path}/role/app").json()["data"])
        out.append(s.api("GET", f"auth/{path}/role/web").json()["data"])
        out.append(s.api("LIST", f"auth/{path}/role").json()["data"])
        for body in ({"bound_service_account_names": [], "bound_service_account_namespaces": ["a"]},
                     {"bound_service_account_names": ["*", "x"], "bound_service_account_namespaces": ["a"]},
                     {"bound_service_account_names": ["x"]},
                     {"bound_service_account_names": ["x"], "bound_service_account_namespaces": ["*", "b"]},
                     {"bound_service_account_names": ["x"], "bound_service_account_namespaces": ["a"], "alias_name_source": "nope"},
                     {"bound_service_account_names": ["x"], "bound_service_account_namespaces": ["a"], "token_ttl": "2h", "token_max_ttl": "1h"},
                     {"bound_service_account_names": ["x"], "bound_service_account_namespaces": ["a"], "token_period": "800h"},
                     {"bound_service_account_names": ["x"], "bound_service_account_namespaces": ["a"], "token_max_ttl": "800h"}):
            r = s.api("POST", f"auth/{path}/role/bad", body)
            answer = r.json()
            answer.pop("request_id", None)
            out.append((r.status_code, answer))
        # Legacy (pre token_*) keys are read back while in effect.
        make_role(s, path, "legacy", token_policies=None, token_ttl=None, policies="app,db", ttl="30m",
                  max_ttl="1h", num_uses=4, period=0)
        out.append(s.api("GET", f"auth/{path}/role/legacy").json()["data"])
        s.api("POST", f"auth/{path}/role/legacy", {"token_policies": ["web"], "token_ttl": "10m"})
        out.append(s.api("GET", f"auth/{path}/role/legacy").json()["data"])
        r = s.api("DELETE", f"auth/{path}/role/app")
        out.append(r.status_code)
        out.append(s.api("GET", f"auth/{path}/role/app").status_code)
        return out

    mine, theirs = run(coffer), run(openbao)
    assert mine == theirs
    assert mine[1]["alias_name_source"] == "serviceaccount_uid" and "audience" not in mine[1]
    assert mine[2]["audience"] == "vault"


# --------------------------------------------------------------------------
# Login: each case answered as OpenBao answers it
# --------------------------------------------------------------------------

def test_login_before_config(server):
    path = fresh_mount(server)
    make_role(server, path)
    assert errors(login(server, path, "app", "x.y.z")) == (500, ["could not load backend configuration"])
    assert errors(login(server, path, "nope", "x.y.z")) == (400, ['invalid role name "nope"'])
    assert errors(login(server, path, "", "x.y.z")) == (400, ["missing role"])
    assert errors(login(server, path, "app", "")) == (400, ["missing jwt"])


def check_auth(body, path, role="app", ns="default", name="app", uid="1111-2222", secret=""):
    auth = body["auth"]
    assert auth["metadata"] == {"role": role, "service_account_name": name, "service_account_namespace": ns,
                                "service_account_secret_name": secret, "service_account_uid": uid}
    assert auth["policies"] == ["app", "default"] and auth["token_policies"] == ["app", "default"]
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    assert auth["client_token"].startswith("s.")


def test_login_via_token_review(server, apiserver, rsa_signer):
    path = fresh_mount(server)
    configure(server, path, apiserver)
    make_role(server, path)
    jwt = apiserver.issue(rsa_signer, projected_claims("default", "app", "1111-2222"))
    before = len(apiserver.requests)
    status, body = login(server, path, "app", jwt)
    assert status == 200, body
    check_auth(body, path)
    # Exactly one TokenReview, in the v1 shape, with the reviewer JWT as bearer
    # and the token's own audiences (the role sets none).
    assert len(apiserver.requests) == before + 1
    req_path, headers, review = apiserver.requests[-1]
    assert req_path == "/apis/authentication.k8s.io/v1/tokenreviews"
    assert headers["authorization"] == f"Bearer {REVIEWER}"
    assert headers["content-type"] == "application/json" and headers["accept"] == "application/json"
    assert review == {"metadata": {}, "spec": {"token": jwt, "audiences": [API_AUDIENCE]}, "status": {"user": {}}}
    # Further logins reuse the kept-alive connection to the API server.
    conns = apiserver.connections
    for i in range(3):
        again = apiserver.issue(rsa_signer, projected_claims("default", "app", f"reuse-{server.name}-{i}"))
        assert login(server, path, "app", again)[0] == 200
    assert apiserver.connections - conns <= 1
    # The token is a working token carrying the metadata.
    look = server.api("GET", "auth/token/lookup-self", token=body["auth"]["client_token"]).json()["data"]
    assert look["display_name"] == f"{path}-default-app"
    assert look["meta"]["service_account_uid"] == "1111-2222"


def test_login_jwt_with_trailing_newline(server, apiserver, rsa_signer):
    """A token read from a file with a newline: parsed (whitespace ignored), sent to TokenReview as given."""
    path = fresh_mount(server)
    configure(server, path, apiserver)
    make_role(server, path)
    jwt = apiserver.issue(rsa_signer, projected_claims("default", "app", f"newline-{server.name}"))
    apiserver.known[jwt + "\n"] = apiserver.known[jwt]
    assert login(server, path, "app", jwt + "\n")[0] == 200
    assert apiserver.requests[-1][2]["spec"]["token"] == jwt + "\n"


def test_login_legacy_token_and_client_jwt_as_bearer(server, apiserver, rsa_signer):
    path = fresh_mount(server)
    server.api("POST", f"auth/{path}/config", {"kubernetes_host": apiserver.url, "kubernetes_ca_cert": apiserver.ca_pem,
                                               "disable_local_ca_jwt": True})
    make_role(server, path, bound_service_account_names="ap*")
    jwt = apiserver.issue(rsa_signer, legacy_claims("default", "app", "1111-2222", "app-token"))
    status, body = login(server, path, "app", jwt)
    assert status == 200, body
    check_auth(body, path, secret="app-token")
    _, headers, review = apiserver.requests[-1]
    assert headers["authorization"] == f"Bearer {jwt}"
    assert review == {"metadata": {}, "spec": {"token": jwt}, "status": {"user": {}}}


@pytest.mark.parametrize("kind", ["RS256", "ES256", "RS384", "RS512", "ES384", "ES512", "cert"])
def test_login_via_pem_keys(server, apiserver, kind):
    signer, other = Signer(kind if kind != "cert" else "RS256"), Signer("ES256")
    key = signer.certificate_pem() if kind == "cert" else signer.public_pem()
    path = fresh_mount(server)
    configure(server, path, apiserver, pem_keys=[other.public_pem(), key])
    make_role(server, path)
    jwt = apiserver.issue(signer, projected_claims("default", "app", "1111-2222"))
    status, body = login(server, path, "app", jwt)
    assert status == 200, body
    check_auth(body, path)
    # A token signed by a key not in pem_keys: denied before any TokenReview.
    forged = apiserver.issue(Signer(signer.alg), projected_claims("default", "app", "1111-2222"))
    before = len(apiserver.requests)
    assert errors(login(server, path, "app", forged)) == (403, ["permission denied"])
    assert len(apiserver.requests) == before


def test_pem_keys_do_not_skip_token_review(server, apiserver, rsa_signer):
    """OpenBao still asks the API server after a good local signature check."""
    path = fresh_mount(server)
    configure(server, path, apiserver, pem_keys=[rsa_signer.public_pem()])
    make_role(server, path)
    unknown = rsa_signer.sign(projected_claims("default", "app", "never-issued"))  # validly signed, unknown to the cluster
    assert errors(login(server, path, "app", unknown)) == (403, ["permission denied"])


@pytest.mark.parametrize("case", ["expired", "audience", "namespace", "name", "notajwt", "issuer", "future"])
def test_login_local_refusals(server, apiserver, rsa_signer, case):
    path = fresh_mount(server)
    extra = {"issuer": "https://kubernetes.default.svc.cluster.local", "disable_iss_validation": False} if case == "issuer" else {}
    configure(server, path, apiserver, **extra)
    make_role(server, path, audience="vault" if case == "audience" else "")
    now = int(time.time())
    claims = {
        "expired": projected_claims("default", "app", "u1", now=now - 7200),
        "audience": projected_claims("default", "app", "u1", aud=["other"]),
        "namespace": projected_claims("kube-system", "app", "u1"),
        "name": projected_claims("default", "admin", "u1"),
        "issuer": projected_claims("default", "app", "u1", issuer="https://evil"),
        "future": projected_claims("default", "app", "u1", now=now + 600),
    }.get(case)
    jwt = "notajwt" if claims is None else apiserver.issue(rsa_signer, claims)
    before = len(apiserver.requests)
    expected = {
        "expired": "invalid expiration time (exp) claim: token is expired",
        "audience": "invalid audience (aud) claim: audience claim does not match any expected audience",
        "namespace": "namespace not authorized",
        "name": "service account name not authorized",
        "notajwt": "permission denied",
        "issuer": "invalid issuer (iss) claim",
        "future": "invalid not before (nbf) claim: token not yet valid",
    }[case]
    assert errors(login(server, path, "app", jwt)) == (403, [expected])
    assert len(apiserver.requests) == before, "local refusals must not call TokenReview"


def test_login_wrong_signature_with_pem_keys(server, apiserver, rsa_signer):
    path = fresh_mount(server)
    configure(server, path, apiserver, pem_keys=[rsa_signer.public_pem()])
    make_role(server, path)
    good = apiserver.issue(rsa_signer, projected_claims("default", "app", "1111-2222"))
    h, p, s = good.split(".")
    flipped = s[:-4] + ("AAAA" if s[-4:] != "AAAA" else "BBBB")
    assert errors(login(server, path, "app", f"{h}.{p}.{flipped}")) == (403, ["permission denied"])


def test_login_response_matches_openbao(coffer, openbao, apiserver, ec_signer):
    """The whole auth block, normalised, is the same on both servers."""
    def run(s):
        path = fresh_mount(s)
        configure(s, path, apiserver)
        make_role(s, path, token_max_ttl="2h", token_num_uses=3)
        jwt = apiserver.issue(ec_signer, projected_claims("default", "app", f"same-{s.name}"))
        status, body = login(s, path, "app", jwt)
        assert status == 200, body
        auth = body["auth"]
        auth["client_token"] = auth["client_token"][:2]
        auth["accessor"] = len(auth["accessor"])
        auth["entity_id"] = bool(auth["entity_id"])
        auth["metadata"]["service_account_uid"] = "<uid>"
        body["request_id"] = "<id>"
        return status, body

    assert run(coffer) == run(openbao)


def test_login_bound_cidrs(server, apiserver, rsa_signer):
    path = fresh_mount(server)
    configure(server, path, apiserver)
    make_role(server, path, token_bound_cidrs=["10.0.0.0/8"])
    jwt = apiserver.issue(rsa_signer, projected_claims("default", "app", "cidr-1"))
    assert errors(login(server, path, "app", jwt)) == (403, ["permission denied"])
    make_role(server, path, token_bound_cidrs=["127.0.0.0/8"])
    assert login(server, path, "app", jwt)[0] == 200


@pytest.mark.parametrize("keys", [False, True])
def test_login_unexpected_algorithms(server, apiserver, keys):
    """PS256 (valid signature) and HS256 tokens: refused as OpenBao refuses them."""
    signer = Signer("RS256")
    path = fresh_mount(server)
    configure(server, path, apiserver, **({"pem_keys": [signer.public_pem()]} if keys else {}))
    make_role(server, path)
    claims = projected_claims("default", "app", "alg-1")
    h = b64url(json.dumps({"alg": "PS256"}).encode())
    p = b64url(json.dumps(claims).encode())
    sig = signer.key.sign(f"{h}.{p}".encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    ps = f"{h}.{p}.{b64url(sig)}"
    unexpected = "invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
    assert errors(login(server, path, "app", ps)) == (403, [unexpected])
    hs = f"{b64url(json.dumps({'alg': 'HS256'}).encode())}.{p}.{b64url(b'x' * 32)}"
    assert errors(login(server, path, "app", hs)) == (403, ["permission denied"])


def test_login_token_review_refusals(server, apiserver, rsa_signer):
    path = fresh_mount(server)
    configure(server, path, apiserver)
    make_role(server, path, audience="vault")
    # Unknown to the cluster: TokenReview says authenticated=false.
    unknown = rsa_signer.sign(projected_claims("default", "app", "u-unknown", aud=["vault"]))
    assert errors(login(server, path, "app", unknown)) == (403, ["permission denied"])
    _, _, review = apiserver.requests[-1]
    assert review["spec"]["audiences"] == ["vault"]
    # The API server names another identity than the claims (uid differs).
    claims = projected_claims("default", "app", "u1", aud=["vault"])
    jwt = apiserver.issue(rsa_signer, claims)
    ns, name, _, aud = apiserver.known[jwt]
    apiserver.known[jwt] = (ns, name, "another-uid", aud)
    assert errors(login(server, path, "app", jwt)) == (403, ["permission denied"])
    # A bad reviewer JWT: the API server answers 401.
    configure(server, path, apiserver, token_reviewer_jwt="wrong")
    good = apiserver.issue(rsa_signer, projected_claims("default", "app", "u2", aud=["vault"]))
    assert errors(login(server, path, "app", good)) == (403, ["permission denied"])
    configure(server, path, apiserver)
    assert login(server, path, "app", good)[0] == 200


def test_login_unreachable_or_untrusted_api_server(server, apiserver, rsa_signer):
    path = fresh_mount(server)
    make_role(server, path)
    jwt = apiserver.issue(rsa_signer, projected_claims("default", "app", "1111-2222"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    server.api("POST", f"auth/{path}/config", {"kubernetes_host": f"https://127.0.0.1:{closed}",
                                               "kubernetes_ca_cert": apiserver.ca_pem, "disable_local_ca_jwt": True,
                                               "token_reviewer_jwt": REVIEWER})
    assert errors(login(server, path, "app", jwt)) == (403, ["permission denied"])
    # Reachable, but its certificate is not signed by the configured CA.
    other_ca, _, _ = make_ca_and_leaf(tempfile.mkdtemp(prefix="other-ca-"))
    configure(server, path, apiserver, kubernetes_ca_cert=other_ca)
    before = len(apiserver.requests)
    assert errors(login(server, path, "app", jwt)) == (403, ["permission denied"])
    assert len(apiserver.requests) == before
    configure(server, path, apiserver)
    assert login(server, path, "app", jwt)[0] == 200


def test_plain_http_loopback(server, rsa_signer):
    plain = FakeApiServer(REVIEWER, tls=False)
    try:
        path = fresh_mount(server)
        configure(server, path, plain)
        make_role(server, path)
        jwt = plain.issue(rsa_signer, projected_claims("default", "app", "1111-2222"))
        assert login(server, path, "app", jwt)[0] == 200
    finally:
        plain.stop()


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_namespace_selector(server, apiserver, rsa_signer, form):
    path = fresh_mount(server)
    configure(server, path, apiserver)
    selector = ('{"matchLabels":{"stage":"prod"}}' if form == "json" else "matchLabels:\n  stage: prod\n")
    make_role(server, path, bound_service_account_namespaces=[], bound_service_account_namespace_selector=selector)
    assert server.api("GET", f"auth/{path}/role/app").json()["data"]["bound_service_account_namespace_selector"] == selector
    ok = apiserver.issue(rsa_signer, projected_claims("prod-a", "app", f"sel-{form}-1"))
    assert login(server, path, "app", ok)[0] == 200
    assert any(p == "/api/v1/namespaces/prod-a" for p, _, _ in apiserver.requests)
    dev = apiserver.issue(rsa_signer, projected_claims("dev-b", "app", f"sel-{form}-2"))
    assert errors(login(server, path, "app", dev)) == (403, ["namespace not authorized"])
    r = server.api("POST", f"auth/{path}/role/bad", {"bound_service_account_names": "x",
                                                    "bound_service_account_namespace_selector": '{"matchExpressions":[]}'})
    assert (r.status_code, r.json()) == (400, {"errors": ['invalid "bound_service_account_namespace_selector" configured']})


def test_coffer_refuses_plain_http_off_loopback(coffer):
    path = fresh_mount(coffer)
    r = coffer.api("POST", f"auth/{path}/config", {"kubernetes_host": "http://10.0.0.1:8080",
                                                   "kubernetes_ca_cert": "x", "disable_local_ca_jwt": True})
    assert r.status_code == 400 and "loopback" in r.json()["errors"][0]


# --------------------------------------------------------------------------
# Real clients
# --------------------------------------------------------------------------

def test_bao_cli_login(server, apiserver, ec_signer):
    path = fresh_mount(server)
    configure(server, path, apiserver)
    make_role(server, path)
    jwt = apiserver.issue(ec_signer, projected_claims("default", "app", "1111-2222"))
    out = json.loads(server.bao("login", "-method=kubernetes", f"-path={path}", "-format=json",
                                "role=app", f"jwt={jwt}", token="").stdout)
    assert out["auth"]["metadata"]["service_account_name"] == "app"
    assert out["auth"]["policies"] == ["app", "default"]
    bad = server.bao("login", "-method=kubernetes", f"-path={path}", "role=app", "jwt=notajwt", token="", check=False)
    assert bad.returncode != 0 and "permission denied" in (bad.stdout + bad.stderr)


def test_hvac_login(server, apiserver, rsa_signer):
    import hvac
    path = fresh_mount(server)
    configure(server, path, apiserver)
    make_role(server, path)
    jwt = apiserver.issue(rsa_signer, projected_claims("default", "app", "1111-2222"))
    client = hvac.Client(url=server.addr)
    resp = client.auth.kubernetes.login(role="app", jwt=jwt, mount_point=path)
    assert resp["auth"]["metadata"]["service_account_namespace"] == "default"
    assert client.is_authenticated()
    # hvac's own role helpers read the same shapes.
    admin = hvac.Client(url=server.addr, token=server.token)
    role = admin.auth.kubernetes.read_role(name="app", mount_point=path)
    assert role["bound_service_account_names"] == ["app"]
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.kubernetes.login(role="app", jwt="notajwt", mount_point=path)


def test_jwts_never_logged(apiserver, rsa_signer, workdir):
    """Neither the server log (at trace level) nor the audit log holds a JWT."""
    from conftest import start_coffer_config
    audit_file = os.path.join(workdir, "audit.log")
    config = f"""
listener "tcp" {{
  address = "127.0.0.1:PORT"
  tls_disable = true
}}
storage "file" {{
  path = "{workdir}/data"
}}
log_level = "trace"
audit "file" "file" {{
  options {{
    file_path = "{audit_file}"
  }}
}}
"""
    s = start_coffer_config(config, workdir)
    try:
        init = s.api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="").json()
        s.api("PUT", "sys/unseal", {"key": init["keys_base64"][0]}, token="")
        s.token = init["root_token"]
        path = fresh_mount(s)
        configure(s, path, apiserver)
        make_role(s, path)
        jwt = apiserver.issue(rsa_signer, projected_claims("default", "app", "logged-1"))
        unknown = rsa_signer.sign(projected_claims("default", "app", "logged-2"))
        assert login(s, path, "app", jwt)[0] == 200
        assert login(s, path, "app", unknown)[0] == 403
        logs = s.logs()
        audit = Path(audit_file).read_text()
    finally:
        s.kill()
    assert f"auth/{path}/login" in audit
    for secret in (jwt, unknown, REVIEWER):
        assert secret.split(".")[-1] not in logs
        assert secret.split(".")[-1] not in audit


def test_hvac_admin_calls_match_openbao(coffer, openbao, apiserver, rsa_signer):
    """hvac's configure/create_role/read_role/list_roles/delete_role, compared."""
    import hvac

    def run(s):
        path = fresh_mount(s)
        c = hvac.Client(url=s.addr, token=s.token)
        c.auth.kubernetes.configure(kubernetes_host=apiserver.url, kubernetes_ca_cert=apiserver.ca_pem,
                                    token_reviewer_jwt=REVIEWER, disable_local_ca_jwt=True, mount_point=path)
        c.auth.kubernetes.create_role(name="app", bound_service_account_names=["app"],
                                      bound_service_account_namespaces=["default"], policies=["app"], ttl="1h",
                                      audience=API_AUDIENCE, mount_point=path)
        cfg = c.auth.kubernetes.read_config(mount_point=path)
        role = c.auth.kubernetes.read_role(name="app", mount_point=path)
        roles = c.auth.kubernetes.list_roles(mount_point=path)
        jwt = apiserver.issue(rsa_signer, projected_claims("default", "app", f"hvac-admin-{s.name}"))
        auth = hvac.Client(url=s.addr).auth.kubernetes.login(role="app", jwt=jwt, mount_point=path)["auth"]
        c.auth.kubernetes.delete_role(name="app", mount_point=path)
        return cfg, role, roles, auth["policies"], auth["lease_duration"]

    assert run(coffer) == run(openbao)


def test_odd_tokens_match_openbao(coffer, openbao, apiserver, rsa_signer):
    """Malformed or partial claims, unknown login fields, role name case: same answers."""
    def run(s):
        path = fresh_mount(s)
        configure(s, path, apiserver)
        make_role(s, path, "app", bound_service_account_names="*", bound_service_account_namespaces="*")
        make_role(s, path, "byname", bound_service_account_names="*", bound_service_account_namespaces="*",
                  alias_name_source="serviceaccount_name")
        base = projected_claims("default", "app", f"odd-{s.name}")
        tokens = {}
        c = dict(base, exp="soon")
        tokens["exp_string"] = apiserver.issue(rsa_signer, c)
        c = dict(base, **{"kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app"}}})
        tokens["no_uid"] = apiserver.issue(rsa_signer, c)
        c = dict(base, **{"kubernetes.io": {"namespace": "default"}})
        tokens["no_serviceaccount"] = apiserver.issue(rsa_signer, c)
        c = legacy_claims("default", "app", f"odd-legacy-{s.name}", "sec")
        del c["kubernetes.io/serviceaccount/namespace"]
        tokens["legacy_no_namespace"] = apiserver.issue(rsa_signer, c)
        tokens["two_parts"] = "a.b"
        out = {}
        for k, jwt in tokens.items():
            for role in ("app", "byname"):
                out[f"{k}/{role}"] = errors(login(s, path, role, jwt))
        r = s.api("POST", f"auth/{path}/login", {"role": "APP", "jwt": apiserver.issue(rsa_signer, base), "foo": 1}, token="")
        body = r.json()
        out["upper_case_role_unknown_field"] = (r.status_code, body["warnings"], body["auth"]["metadata"]["role"])
        return out

    mine, theirs = run(coffer), run(openbao)
    assert mine == theirs
    assert mine["upper_case_role_unknown_field"] == (200, ["Endpoint ignored these unrecognized parameters: [foo]"], "APP")


def test_bao_agent_auto_auth(server, apiserver, rsa_signer, workdir):
    """`bao agent` auto-auth with method "kubernetes" reads the pod token file and logs in."""
    import subprocess

    from conftest import BAO
    path = fresh_mount(server)
    configure(server, path, apiserver)
    make_role(server, path)
    token_file = Path(workdir) / "sa-token"
    token_file.write_text(apiserver.issue(rsa_signer, projected_claims("default", "app", f"agent-{server.name}")))
    sink = Path(workdir) / "sink"
    cfg = Path(workdir) / "agent.hcl"
    cfg.write_text(f"""
vault {{
  address = "{server.addr}"
}}
exit_after_auth = true
auto_auth {{
  method "kubernetes" {{
    mount_path = "auth/{path}"
    config = {{
      role = "app"
      token_path = "{token_file}"
    }}
  }}
  sink "file" {{
    config = {{
      path = "{sink}"
    }}
  }}
}}
""")
    env = dict(os.environ, HOME=server.home())
    env.pop("BAO_TOKEN", None)
    r = subprocess.run([BAO, "agent", f"-config={cfg}"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    token = sink.read_text().strip()
    look = server.api("GET", "auth/token/lookup-self", token=token).json()["data"]
    assert look["meta"]["service_account_name"] == "app" and look["policies"] == ["app", "default"]
