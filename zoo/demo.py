"""A local demo page of the shipped models: ``python -m zoo.demo [--port 8000]``, then open
http://127.0.0.1:8000 in a browser.

Draw a digit (mnist, usps and pdcnn's "not a digit" answer), drop a photo (cat or dog), or
enter a house's four features (price with the gaussian model's 95% interval). The page is one
HTML file (``zoo/demo.html``) served by Python's own ``http.server`` on 127.0.0.1 and needs no
internet; its three JSON endpoints go through :func:`zoo.predict.predict` (each request's input read
in memory: no temporary file), so the page sees exactly what ``python -m zoo.predict`` prints,
out-of-range flags, calibrated sets and intervals, and refusals included. Concurrent requests' inputs
to one model run through it as one batch (:class:`Batcher`); a request alone runs at once.
(uvicorn with starlette served within run-to-run noise of it, and answers a malformed Content-Length
in plain text before any code of ours runs: ``http.server`` stays, ``benchmarks/RESULTS.md``.)

Every request gets an HTTP answer with a JSON body: 400 for a malformed body or Content-Length
(naming "the photo", "the drawing", "the house"), 411 without a length,
413 over the upload limit, 503 with ``Retry-After`` when the inference queue is full, 500 (and a
traceback in the log) for a bug of ours.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from data_prep.errors import ZooError
from zoo.cli import non_negative_int, positive_int, run

PAGE = Path(__file__).with_name("demo.html")
DIGIT_MODELS = ("mnist", "usps", "mnist-pdcnn")
MAX_UPLOAD = 20 * 1024 * 1024  # bytes: a large phone photo
# Every request gets an answer: INFERENCES requests are being answered at once (reading their
# input, then waiting for their model's next batch), WAITING more queue for them, and one beyond
# those gets 503 with Retry-After at once. The listen backlog holds every connection the queue can
# take, so none is reset (benchmarks/demo_load.py measures it).
INFERENCES, WAITING = 32, 64
# Requests for one model that arrive within BATCH_WINDOW seconds of the first go through it as one
# batch of up to MAX_BATCH inputs, as TF Serving batches (max_batch_size, batch_timeout_micros).
MAX_BATCH, BATCH_WINDOW = 64, 0.004
BACKLOG = 128
ROUTES = {"/api/digit": "the drawing", "/api/photo": "the photo", "/api/house": "the house"}
EXAMPLES = {"/api/digit": '{"image": "data:image/png;base64,..."}',
            "/api/house": '{"OverallQual": 7, "YearBuilt": 2001, "TotalBsmtSF": 1000, "GrLivArea": 1800}'}


class Models:
    """The shipped models, loaded once on first use (a thread-safe cache), each with its :class:`Batcher`
    (``pending``: see there)."""

    def __init__(self, pending=None):
        self._loaded, self._batchers, self._lock = {}, {}, threading.Lock()
        self._pending = pending

    def __getitem__(self, name):
        from zoo.predict import load

        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load(name)
                self._batchers[name] = Batcher(self._loaded[name].model, pending=self._pending)
            return self._loaded[name]

    def batcher(self, name) -> "Batcher":
        self[name]
        return self._batchers[name]


class Batcher:
    """One model's inputs from concurrent requests, run through it as one batch.

    A request's thread reads and checks its own input (so a bad one fails alone, before it joins a
    batch), then calls the batcher with it: the first input of a batch waits ``window`` seconds for
    others (or until ``max_batch``), one thread runs them through :func:`zoo.core.predict_outputs`
    and hands each request its own rows. Should the batch itself fail, each input is run alone, so
    that only a request whose own input fails gets the error. ``pending()``, when given, says how
    many requests are in flight in the server: once the batch holds that many, no other can join,
    and it runs without waiting out the window (a lone request does not wait for company)."""

    def __init__(self, model, max_batch: int = MAX_BATCH, window: float = BATCH_WINDOW, pending=None):
        import queue

        self.model, self.max_batch, self.window, self.pending = model, max_batch, window, pending
        self._inbox = queue.SimpleQueue()
        self.batches = 0  # how many model calls served the requests (a test reads it)
        threading.Thread(target=self._serve, daemon=True, name="zoo-demo-batcher").start()

    def __call__(self, x) -> dict:
        from concurrent.futures import Future

        answer = Future()
        self._inbox.put((x, answer))
        return answer.result()

    def _serve(self):
        import queue
        import time

        while True:
            batch = [self._inbox.get()]
            deadline = time.monotonic() + self.window
            while (len(batch) < self.max_batch and (self.pending is None or self.pending() > len(batch))
                   and (left := deadline - time.monotonic()) > 0):
                try:
                    batch.append(self._inbox.get(timeout=left))
                except queue.Empty:
                    break
            try:
                self._run(batch)
            except Exception as err:  # a bug of ours: every request still gets an answer (a 500)
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(err)

    def _run(self, batch):
        from data_prep.splits import length
        from zoo.core import predict_outputs

        self.batches += 1
        inputs = [x for x, _ in batch]
        try:
            x = ({k: np.concatenate([one[k] for one in inputs]) for k in inputs[0]} if isinstance(inputs[0], dict)
                 else np.concatenate(inputs))
            outputs = predict_outputs(self.model, x)
        except Exception as err:  # e.g. inputs that do not stack: each alone, so that only a bad one fails
            if len(batch) == 1:
                return batch[0][1].set_exception(err)
            for item in batch:
                self._run([item])
            return
        start = 0
        for x_one, answer in batch:
            rows = slice(start, start + length(x_one))
            answer.set_result({name: values[rows] for name, values in outputs.items()})
            start = rows.stop


class Busy(Exception):
    """The inference queue is full: answered 503, with Retry-After."""


class Queue:
    """At most ``running`` requests in inference and ``waiting`` more in line; any beyond is refused."""

    def __init__(self, running: int = INFERENCES, waiting: int = WAITING):
        self._admitted = threading.BoundedSemaphore(running + waiting)
        self._running = threading.Semaphore(running)
        self._count = threading.Lock()
        self.in_flight = 0  # requests admitted and not yet answered

    @contextlib.contextmanager
    def slot(self):
        if not self._admitted.acquire(blocking=False):
            raise Busy
        with self._count:
            self.in_flight += 1
        try:
            with self._running:
                yield
        finally:
            with self._count:
                self.in_flight -= 1
            self._admitted.release()


def predict_upload(models: Models, name: str, data, what: str, top_k: int = 1) -> dict:
    """What ``python -m zoo.predict NAME FILE`` says of a request's input, read in memory: the bytes
    of a file (an error names it ``what``: "the photo"), or a house's features (a dict)."""
    from data_prep.user_inputs import Upload
    from zoo.predict import predict

    item = data if isinstance(data, dict) else Upload(what, data)
    (result,) = predict(models[name], [item], top_k=top_k, infer=models.batcher(name))
    return {k: v for k, v in result.items() if k != "input"}


def json_object(body: bytes, route: str) -> dict:
    """The body as a JSON object, or a :class:`ZooError` saying what to send."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ZooError(f"the body is not JSON: send an object like {EXAMPLES[route]}") from None
    if not isinstance(data, dict):
        raise ZooError(f"the body is a JSON {type(data).__name__}, not an object: send one like {EXAMPLES[route]}")
    return data


def answer(models: Models, route: str, body: bytes) -> dict:
    """The JSON answer of one endpoint."""
    what = ROUTES[route]
    if route == "/api/digit":  # {"image": "data:image/png;base64,..."} from the canvas
        image = json_object(body, route).get("image")
        try:
            png = base64.b64decode(image.split(",", 1)[1], validate=True)
        except (AttributeError, IndexError, ValueError):
            raise ZooError(f"{what} is not a data URL (data:image/png;base64,...): send {EXAMPLES[route]}") from None
        return {name: predict_upload(models, name, png, what, top_k=3) for name in DIGIT_MODELS}
    if route == "/api/photo":  # the photo's bytes as they are
        return predict_upload(models, "cats_dogs", body, what)
    features = json_object(body, route)  # {"OverallQual": 7, "YearBuilt": 2001, ...}
    return predict_upload(models, "house_prices-gaussian", features, what)


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def handler(models: Models, queue: Queue):
    class Handler(BaseHTTPRequestHandler):
        timeout = 30  # seconds a client may take to send its request: a stalled one frees its thread

        def do_GET(self):
            if self.path in ("/", "/index.html"):
                self.reply(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            else:
                self.reply_json(404, {"error": f"no page {self.path[:80]}: the demo is at /"})

        def do_POST(self):
            try:
                body = self.read_body()
                if self.path not in ROUTES:
                    raise BadRequest(404, f"no endpoint {self.path[:80]}; the demo's are {', '.join(ROUTES)}")
                with queue.slot():
                    result = answer(models, self.path, body)
            except BadRequest as err:
                self.reply_json(err.status, {"error": str(err)})
                return self.drain()
            except Busy:
                return self.reply_json(503, {"error": "the demo is busy: try again in a second"}, {"Retry-After": "1"})
            except ZooError as err:  # the user's input: said on the page, as the CLI says it
                return self.reply_json(400, {"error": str(err)})
            except Exception as err:  # a bug of ours: the client still gets an answer, the log the traceback
                traceback.print_exc()
                return self.reply_json(500, {"error": f"the demo failed on this request ({type(err).__name__}); "
                                                      "its log has the details"})
            self.reply_json(200, result)

        def read_body(self) -> bytes:
            value = self.headers.get("Content-Length")
            if value is None:
                raise BadRequest(411, "send a Content-Length header with the body")
            if not value.strip().isdigit():
                raise BadRequest(400, f"Content-Length {value[:40]!r} is not a number of bytes")
            length = int(value)
            if length > MAX_UPLOAD:
                raise BadRequest(413, f"the upload is {length / 2**20:.1f} MB, over the demo's "
                                      f"{MAX_UPLOAD // 2**20} MB: send a smaller file")
            try:
                body = self.rfile.read(length)
            except OSError:  # a timeout: the client stopped sending
                body = b""
            if len(body) < length:
                raise BadRequest(400, f"the body ended after {len(body)} of its {length} bytes")
            return body

        def drain(self) -> None:
            """Read what the client still sends of a refused request (up to 4 times the upload limit,
            until it pauses), so that closing the connection does not reset it before our answer is read."""
            left = 4 * MAX_UPLOAD
            with contextlib.suppress(OSError, ValueError):
                self.connection.settimeout(0.5)
                while left > 0 and (chunk := self.rfile.read1(1 << 20)):
                    left -= len(chunk)

        def reply_json(self, status, data, headers=None):
            self.reply(status, json.dumps(data).encode(), "application/json", headers)

        def reply(self, status, data: bytes, kind: str, headers=None):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(OSError):  # a client that left before its answer
                self.wfile.write(data)

        def log_message(self, format, *args):  # one quiet line a request, not the default's two
            print(f"{self.address_string()} {format % args}", flush=True)

    return Handler


class DemoServer(ThreadingHTTPServer):
    request_queue_size = BACKLOG  # http.server's default listen backlog of 5 reset connections under load
    daemon_threads = True


def serve(host: str = "127.0.0.1", port: int = 8000, queue: Queue | None = None) -> DemoServer:
    """The demo's server, bound (port 0: any free port; ``server.server_port`` says which)."""
    queue = queue or Queue()
    return DemoServer((host, port), handler(Models(pending=lambda: queue.in_flight), queue))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo.demo", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--inferences", type=positive_int, default=INFERENCES,
                   help=f"requests in inference at once (default {INFERENCES})")
    p.add_argument("--queue", type=non_negative_int, default=WAITING,
                   help=f"requests waiting for inference before more get 503 (default {WAITING})")
    args = p.parse_args(argv)
    try:
        server = serve(args.host, args.port, Queue(args.inferences, args.queue))
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
