#!/usr/bin/env python3
"""Start-to-ready time and idle RSS of a dev server, measured precisely
(health polled every millisecond), several runs, median reported.

    startup.py [--runs 5] -- COMMAND... (with PORT where the port goes)
prints one JSON line: {"ready_ms_median":..,"ready_ms":[..],"idle_rss_mib_median":..}"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def once(cmd):
    port = free_port()
    argv = [a.replace("PORT", str(port)) for a in cmd]
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1/sys/health"
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if p.poll() is not None:
                raise SystemExit(f"server exited: {argv}")
            time.sleep(0.001)
        ready = (time.perf_counter() - start) * 1000
        time.sleep(2)
        return ready, rss_mib(p.pid)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait()


def main():
    args = sys.argv[1:]
    runs = 5
    if args[:1] == ["--runs"]:
        runs, args = int(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    results = [once(args) for _ in range(runs)]
    ready = [round(r, 1) for r, _ in results]
    rss = [round(m, 1) for _, m in results]
    print(json.dumps({"cmd": args[0], "ready_ms_median": statistics.median(ready), "ready_ms": ready,
                      "idle_rss_mib_median": statistics.median(rss), "idle_rss_mib": rss}))


if __name__ == "__main__":
    main()
