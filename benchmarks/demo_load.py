"""The demo server under load, endpoint by endpoint (issue 56):

    ZOO_DATA_DIR=../shared/data python benchmarks/demo_load.py [--clients 1 8 40] [--requests 300]

Starts ``python -m zoo.demo`` on a free port of 127.0.0.1 (``--module`` names another version of it;
extra arguments after ``--`` go to it), waits for its page, then for each endpoint (houses, drawn
digits, photos) and each number of concurrent clients sends ``--requests`` requests from that many
threads, each request on its own connection. Prints the machine, then per row the statuses (and
connections reset or closed without an answer), requests/s, p50 and p99 latency. The photos are
real ones (``--photos`` of cats_dogs' training photos, sent as their JPEG bytes); in the same run,
before the server starts, ``zoo.predict`` runs on a folder of the same photos, for the photos/s the
demo is compared with.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def percentile(sorted_values, q: float) -> float:
    return sorted_values[int(q * (len(sorted_values) - 1))]


def workloads(photos: int) -> dict[str, list[bytes]]:
    """Request bodies per endpoint: houses of varied sizes, MNIST test digits drawn dark on white
    (as the page's canvas sends them), and real photos' JPEG bytes."""
    from PIL import Image

    from data_prep.locate import search_roots
    from data_prep.mnist import load_mnist

    house = {"OverallQual": 7, "YearBuilt": 2001, "TotalBsmtSF": 1000, "GrLivArea": 1800}
    digits = []
    for digit in load_mnist().x_test[:50]:
        png = io.BytesIO()
        Image.fromarray(255 - digit.astype("uint8")).resize((280, 280)).save(png, "PNG")
        digits.append(json.dumps({"image": "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()}).encode())
    folder = search_roots()[0] / "cats_dogs" / "train"
    return {"/api/house": [json.dumps({**house, "GrLivArea": 800 + 7 * i}).encode() for i in range(300)],
            "/api/digit": digits,
            "/api/photo": [path.read_bytes() for path in sorted(folder.glob("*.jpg"))[:photos]]}


def folder_photos_per_second(bodies: list[bytes]) -> float:
    """``zoo.predict`` on a folder of these photos (loaded and called once before the clock)."""
    import zoo

    model, card = zoo.load("cats_dogs")
    with tempfile.TemporaryDirectory() as folder:
        for i, body in enumerate(bodies):
            (Path(folder) / f"{i:04d}.jpg").write_bytes(body)
        zoo.predict((model, card), [str(Path(folder) / "0000.jpg")])
        start = time.perf_counter()
        rows = zoo.predict((model, card), [folder])
        return len(rows) / (time.perf_counter() - start)


def load(port: int, route: str, bodies: list[bytes], clients: int, requests: int) -> dict:
    from tests.test_demo import raw_post

    def send(i):
        body = bodies[i % len(bodies)]
        start = time.perf_counter()
        try:
            status = raw_post(port, route, body, {"Content-Length": str(len(body))})[0]
        except OSError as err:  # a reset or a connection closed without an answer
            status = type(err).__name__
        return status, time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(send, range(requests)))
    seconds = time.perf_counter() - start
    counts = {}
    for status, _ in results:
        counts[str(status)] = counts.get(str(status), 0) + 1
    latencies = sorted(latency for _, latency in results)
    return {"statuses": counts, "per_second": len(results) / seconds, "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 40])
    p.add_argument("--requests", type=int, default=300, help="requests per endpoint and number of clients")
    p.add_argument("--photos", type=int, default=300)
    p.add_argument("--endpoints", nargs="+", default=["/api/house", "/api/digit", "/api/photo"])
    p.add_argument("--module", default="zoo.demo", help="the server module (to compare another version)")
    p.add_argument("--cwd", default=str(REPO), help="the tree the server runs from (another version's worktree)")
    p.add_argument("server_args", nargs="*", help="arguments of python -m zoo.demo (after --)")
    args = p.parse_args()
    from zoo.core import machine

    bodies = workloads(args.photos)
    reference = folder_photos_per_second(bodies["/api/photo"]) if "/api/photo" in args.endpoints else None
    server = subprocess.Popen([sys.executable, "-m", args.module, "--port", "0", *args.server_args], cwd=args.cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rows = []
    try:
        port = int(re.search(r":(\d+)", server.stdout.readline())[1])
        # The server logs a line a request: read them, or its pipe fills and its prints block it.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60).read()
        for route in args.endpoints:
            load(port, route, bodies[route], 4, 8)  # each model loaded and traced before the clock starts
            for clients in args.clients:
                rows.append((route, clients, load(port, route, bodies[route], clients, args.requests)))
    finally:
        server.terminate()
        server.wait(30)
    print(f"machine: {machine()}; server: python -m {args.module} {' '.join(args.server_args)} (in {args.cwd})")
    if reference:
        print(f"zoo.predict on a folder of the same {len(bodies['/api/photo'])} photos: {reference:.1f} photos/s")
    print("| endpoint | clients | requests | answers | requests/s | p50 | p99 |")
    print("|---|---|---|---|---|---|---|")
    for route, clients, r in rows:
        answers = ", ".join(f"{n} × {status}" for status, n in sorted(r["statuses"].items()))
        print(f"| `{route}` | {clients} | {args.requests} | {answers} | {r['per_second']:.1f} | "
              f"{1000 * r['p50']:.0f} ms | {1000 * r['p99']:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
