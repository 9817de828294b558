"""The demo's endpoints on uvicorn + starlette instead of ``http.server``: a candidate measured
against ``zoo.demo`` by ``benchmarks/demo_load.py --module benchmarks.demo_asgi`` (issue 56, part 3).

The same answers (``zoo.demo.answer``, its models and batchers), the same limits (Content-Length
checked from the header, 503 with Retry-After beyond INFERENCES + WAITING requests); only the HTTP
layer differs: uvicorn's event loop (uvloop, httptools) reads the requests, and each request's
work runs on a thread of a pool of INFERENCES (anyio's), as ``http.server`` runs it on its own thread.
Needs ``pip install uvicorn[standard] starlette`` (not a dependency of the zoo).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def app(inferences: int, waiting: int):
    import anyio
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    from data_prep.errors import ZooError
    from zoo.demo import MAX_UPLOAD, PAGE, ROUTES, Models, answer

    admitted = [0]  # requests in flight: the batchers run a batch at once when it holds them all, as zoo.demo's do
    models, limiter = Models(pending=lambda: admitted[0]), anyio.CapacityLimiter(inferences)

    async def page(request):
        return HTMLResponse(PAGE.read_bytes())

    async def endpoint(request):
        value = request.headers.get("content-length")
        if value is None:
            return JSONResponse({"error": "send a Content-Length header with the body"}, 411)
        if not value.strip().isdigit():
            return JSONResponse({"error": f"Content-Length {value[:40]!r} is not a number of bytes"}, 400)
        if int(value) > MAX_UPLOAD:
            return JSONResponse({"error": f"the upload is {int(value) / 2**20:.1f} MB, over the demo's "
                                          f"{MAX_UPLOAD // 2**20} MB: send a smaller file"}, 413)
        if admitted[0] >= inferences + waiting:
            return JSONResponse({"error": "the demo is busy: try again in a second"}, 503, {"Retry-After": "1"})
        admitted[0] += 1
        try:
            body = await asyncio.wait_for(request.body(), 30)
            result = await anyio.to_thread.run_sync(answer, models, request.url.path, body, limiter=limiter)
        except ZooError as err:
            return JSONResponse({"error": str(err)}, 400)
        except Exception as err:  # a bug of ours, or a client that stopped sending
            return JSONResponse({"error": f"the demo failed on this request ({type(err).__name__})"}, 500)
        finally:
            admitted[0] -= 1
        return JSONResponse(result)

    return Starlette(routes=[Route("/", page), *(Route(r, endpoint, methods=["POST"]) for r in ROUTES)])


def main() -> int:
    import uvicorn

    from zoo.demo import INFERENCES, WAITING

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    print(f"the zoo's demo (uvicorn): http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app(INFERENCES, WAITING), log_level="warning", backlog=128, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
