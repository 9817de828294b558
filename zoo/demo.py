"""A local demo page of the shipped models: ``python -m zoo.demo [--port 8000]``, then open
http://127.0.0.1:8000 in a browser.

Draw a digit (mnist, usps and pdcnn's "not a digit" answer), drop a photo (cat or dog), or
enter a house's four features (price with the gaussian model's 95% interval). The page is one
HTML file (``zoo/demo.html``) served by Python's own ``http.server`` on 127.0.0.1 and needs no
internet; its three JSON endpoints go through :func:`zoo.predict.predict`, so the page sees
exactly what ``python -m zoo.predict`` prints.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from data_prep.errors import ZooError
from zoo.cli import run

PAGE = Path(__file__).with_name("demo.html")
DIGIT_MODELS = ("mnist", "usps", "mnist-pdcnn")
MAX_UPLOAD = 20 * 1024 * 1024  # bytes: a large phone photo


class Models:
    """The shipped models, loaded once on first use (a thread-safe cache)."""

    def __init__(self):
        self._loaded, self._lock = {}, threading.Lock()

    def __getitem__(self, name):
        from zoo.predict import load

        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load(name)
            return self._loaded[name]


def predict_file(models: Models, name: str, data: bytes, suffix: str, top_k: int = 1) -> dict:
    """What ``python -m zoo.predict NAME FILE`` says of ``data`` written to a file."""
    from zoo.predict import predict

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        (result,) = predict(models[name], [str(path)], top_k=top_k)
    return {k: v for k, v in result.items() if k != "input"}


def answer(models: Models, route: str, body: bytes) -> dict:
    """The JSON answer of one endpoint."""
    if route == "/api/digit":  # {"image": "data:image/png;base64,..."} from the canvas
        image = json.loads(body)["image"]
        png = base64.b64decode(image.split(",", 1)[1])
        return {name: predict_file(models, name, png, ".png", top_k=3) for name in DIGIT_MODELS}
    if route == "/api/photo":  # the photo's bytes as they are
        return predict_file(models, "cats_dogs", body, ".img")
    if route == "/api/house":  # {"OverallQual": 7, "YearBuilt": 2001, "TotalBsmtSF": 1000, "GrLivArea": 1800}
        features = json.loads(body)
        names = ["OverallQual", "YearBuilt", "TotalBsmtSF", "GrLivArea"]
        csv = ",".join(names) + "\n" + ",".join(str(features.get(n, "")) for n in names) + "\n"
        return predict_file(models, "house_prices-gaussian", csv.encode(), ".csv")
    raise KeyError(route)


def handler(models: Models):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path in ("/", "/index.html"):
                self.reply(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            else:
                self.reply(404, b"not found", "text/plain")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_UPLOAD:
                return self.reply_json(413, {"error": f"the upload is over {MAX_UPLOAD // 2**20} MB"})
            body = self.rfile.read(length)
            try:
                self.reply_json(200, answer(models, self.path, body))
            except KeyError:
                self.reply_json(404, {"error": f"no endpoint {self.path}"})
            except ZooError as err:  # the user's input: said on the page, as the CLI says it
                self.reply_json(400, {"error": str(err).replace(tempfile.gettempdir(), "…")})
            except (ValueError, IndexError) as err:
                self.reply_json(400, {"error": f"malformed request: {err}"})

        def reply_json(self, status, data):
            self.reply(status, json.dumps(data).encode(), "application/json")

        def reply(self, status, data: bytes, kind: str):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # one quiet line a request, not the default's two
            print(f"{self.address_string()} {format % args}", flush=True)

    return Handler


def serve(host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """The demo's server, bound (port 0: any free port; ``server.server_port`` says which)."""
    return ThreadingHTTPServer((host, port), handler(Models()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.demo", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    args = p.parse_args(argv)
    try:
        server = serve(args.host, args.port)
    except OSError as err:
        raise ZooError(f"cannot listen on {args.host}:{args.port} ({err.strerror}); pick another --port") from None
    print(f"the zoo's demo: http://{args.host}:{server.server_port}  (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    run(main)
