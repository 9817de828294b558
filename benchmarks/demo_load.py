"""The demo server under load: ``python benchmarks/demo_load.py [--clients 30] [--requests 210]``.

Starts ``python -m zoo.demo`` on a free port of 127.0.0.1 (extra arguments after ``--`` go to it),
waits for its page, then sends house-price and cat-photo requests (5 : 2, as issue 46's
measurement) from ``--clients`` threads at once, each on its own connection. Prints the machine,
each status' count, the connections reset or closed without an answer, and the p50 / p99 latency.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=30)
    p.add_argument("--module", default="zoo.demo", help="the server module (to compare another version)")
    p.add_argument("--requests", type=int, default=210)
    p.add_argument("server_args", nargs="*", help="arguments of python -m zoo.demo (after --)")
    args = p.parse_args()
    from PIL import Image

    from tests.test_demo import raw_post
    from zoo.core import machine

    server = subprocess.Popen([sys.executable, "-m", args.module, "--port", "0", *args.server_args], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(re.search(r":(\d+)", server.stdout.readline())[1])
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60).read()
        photo = io.BytesIO()
        Image.new("RGB", (320, 240), (120, 90, 60)).save(photo, "JPEG")
        house = {"OverallQual": 7, "YearBuilt": 2001, "TotalBsmtSF": 1000, "GrLivArea": 1800}
        requests = [("/api/photo", photo.getvalue()) if i % 7 in (3, 6) else
                    ("/api/house", json.dumps({**house, "GrLivArea": 1000 + i}).encode()) for i in range(args.requests)]
        for route, body in requests[:7]:  # load each model once before the clock starts
            raw_post(port, route, body, {"Content-Length": str(len(body))})

        def send(request):
            start = time.perf_counter()
            try:
                status = raw_post(port, request[0], request[1], {"Content-Length": str(len(request[1]))})[0]
            except OSError as err:
                status = type(err).__name__
            return status, time.perf_counter() - start

        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(send, requests))
        seconds = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(30)
    counts = {}
    for status, _ in results:
        counts[str(status)] = counts.get(str(status), 0) + 1
    latencies = sorted(latency for _, latency in results)
    print(f"machine: {machine()}; server: python -m zoo.demo {' '.join(args.server_args)}")
    print(f"{len(results)} requests, {args.clients} clients, {seconds:.1f} s ({len(results) / seconds:.1f} requests/s): "
          f"{counts}; p50 {latencies[len(latencies) // 2]:.2f} s, p99 {latencies[int(0.99 * (len(latencies) - 1))]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
