"""Load test of `ivigsim serve`: one-patient simulations against a server on 127.0.0.1.

    .venv/bin/python benchmarks/web_load.py                       # 200 requests, 4 at a time
    .venv/bin/python benchmarks/web_load.py --requests 500 --concurrency 8 --seconds 120

Starts the server in a subprocess (uvicorn, a throw-away SQLite catalogue), waits until it
answers /api/health, then sends POST /api/simulate with the shipped ITP example (56 days,
6-hourly outputs, as `ivigsim simulate examples/itp-standard.yaml` runs it) from a pool of
client threads. Bounded in requests and in time (--seconds): whichever comes first. Prints
requests per second, the latency median and 95th percentile, and every non-200 answer
(a 5xx is an error of the server; a 4xx would be an error of this script).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200, help="requests to send at most")
    ap.add_argument("--concurrency", type=int, default=4, help="client threads")
    ap.add_argument("--seconds", type=float, default=120.0, help="stop sending after this long")
    args = ap.parse_args()

    scenario = yaml.safe_load((ROOT / "examples" / "itp-standard.yaml").read_text(encoding="utf-8"))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        ivigsim = Path(sys.executable).with_name("ivigsim")  # the console script of this environment
        server = subprocess.Popen([str(ivigsim), "serve", "--port", str(port), "--db", str(Path(tmp) / "runs.sqlite")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:  # the server imports the library and opens its catalogue first
                try:
                    if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print("the server did not start:", server.stderr.read().decode()[-2000:], file=sys.stderr)
                    return 1
                time.sleep(0.3)
            # One request first: the first simulation of a process pays for imports.
            httpx.post(f"{base}/api/simulate", json={"scenario": scenario}, timeout=120)

            latencies: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()
            sent = 0
            stop_at = time.monotonic() + args.seconds

            def worker() -> None:
                nonlocal sent
                with httpx.Client(timeout=120) as client:
                    while True:
                        with lock:
                            if sent >= args.requests or time.monotonic() > stop_at:
                                return
                            sent += 1
                        t0 = time.perf_counter()
                        try:
                            r = client.post(f"{base}/api/simulate", json={"scenario": scenario})
                            status = r.status_code
                        except httpx.HTTPError as exc:
                            status = f"{type(exc).__name__}"
                        dt = time.perf_counter() - t0
                        with lock:
                            latencies.append(dt)
                            if status != 200:
                                failures.append(str(status))

            start = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=30)

    n = len(latencies)
    q = statistics.quantiles(latencies, n=20) if n >= 2 else latencies * 19
    print(f"ivigsim serve on 127.0.0.1, POST /api/simulate (examples/itp-standard.yaml), {os.cpu_count()} cores, "
          f"{args.concurrency} client threads")
    print(f"  {n} requests in {wall:.1f} s: {n / wall:.2f} requests/s; latency median {statistics.median(latencies):.3f} s, "
          f"95th percentile {q[18]:.3f} s, max {max(latencies):.3f} s")
    print(f"  errors: {len(failures)}" + (f" ({', '.join(sorted(set(failures)))})" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
