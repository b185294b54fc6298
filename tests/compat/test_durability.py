"""kill -9 during concurrent writes on the embedded file backend: after a
restart and unseal, every acknowledged write is there, exactly."""

import signal
import threading
import time

from conftest import start_coffer_config

CONFIG = """
listener "tcp" {
  address = "127.0.0.1:PORT"
  tls_disable = true
}
storage "file" {
  path = "DATA"
}
"""


def test_acknowledged_writes_survive_kill_9(workdir):
    config = CONFIG.replace("DATA", f"{workdir}/data")
    s = start_coffer_config(config, workdir)
    init = s.api("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="").json()
    key = init["keys_base64"][0]
    s.api("PUT", "sys/unseal", {"key": key}, token="")
    s.token = init["root_token"]
    assert s.api("POST", "sys/mounts/secret", {"type": "kv-v2"}).status_code == 204

    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        n = 0
        while not stop.is_set():
            path = f"secret/data/w{w}/k{n}"
            value = f"value-{w}-{n}"
            try:
                r = s.api("POST", path, {"data": {"v": value}})
            except Exception:
                return
            if r.status_code == 200:
                with lock:
                    acked[path] = value
            n += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    s.kill(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 50, f"too few writes were acknowledged to test anything: {len(acked)}"

    s2 = start_coffer_config(config, workdir)
    try:
        assert s2.api("GET", "sys/seal-status", token="").json()["initialized"] is True
        s2.api("PUT", "sys/unseal", {"key": key}, token="")
        s2.token = init["root_token"]
        missing = []
        for path, value in acked.items():
            r = s2.api("GET", path)
            if r.status_code != 200 or r.json()["data"]["data"]["v"] != value:
                missing.append((path, r.status_code))
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost: {missing[:5]}"
    finally:
        s2.kill()
