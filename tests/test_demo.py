"""The demo page in a real browser: headless Chromium (Debian's package) driven by Selenium draws a
digit with the mouse, uploads a photo and prices a house, and reads each answer off the page."""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest
from tests.conftest import write_jpeg

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"


@pytest.fixture(scope="module")
def demo_url():
    from zoo.demo import serve

    server = serve("127.0.0.1", 0)  # a free port on this machine only
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def post(url, body: bytes, kind="application/json"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": kind}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_endpoints_answer_as_zoo_predict_and_refuse_bad_input_in_words(demo_url, tmp_path):
    status, house = post(f"{demo_url}/api/house", json.dumps(
        {"OverallQual": 7, "YearBuilt": 2001, "TotalBsmtSF": 1000, "GrLivArea": 1800}).encode())
    assert status == 200 and house["interval"][0] < house["price"] < house["interval"][1] and house["coverage"] == 0.95
    status, error = post(f"{demo_url}/api/house", json.dumps({"OverallQual": "big"}).encode())
    assert status == 400 and "is not a finite number" in error["error"]
    status, error = post(f"{demo_url}/api/photo", b"not an image", "application/octet-stream")
    assert status == 400 and "is not an image Pillow can read" in error["error"]
    status, _ = post(f"{demo_url}/api/nothing", b"{}")
    assert status == 404
    with urllib.request.urlopen(demo_url, timeout=30) as page:
        assert b"Draw a digit" in page.read()


def test_a_person_draws_uploads_and_prices_in_headless_chromium(demo_url, tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("ZOO_REQUIRE_BROWSER"):  # CI installs it: missing there is a failure
            pytest.fail(f"Chromium or chromedriver missing; {INSTALL}")
        pytest.skip(f"no Chromium here; to test the page: {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1200,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    wait = WebDriverWait(browser, 90)
    try:
        browser.get(demo_url)
        canvas = browser.find_element(By.ID, "canvas")  # a "1": one stroke down the middle, with the mouse
        ActionChains(browser).move_to_element_with_offset(canvas, 0, -90).click_and_hold() \
            .move_by_offset(0, 60).move_by_offset(0, 60).move_by_offset(0, 60).release().perform()
        browser.find_element(By.ID, "digit-predict").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#digit-result tr[data-model]"))
        answers = {row.get_attribute("data-model"): row.find_element(By.CLASS_NAME, "class").text
                   for row in browser.find_elements(By.CSS_SELECTOR, "#digit-result tr[data-model]")}
        assert answers == {"mnist": "1", "usps": "1", "mnist-pdcnn": "1"}, answers
        sets = [row.find_element(By.CLASS_NAME, "set").text  # each model's calibrated set, in words
                for row in browser.find_elements(By.CSS_SELECTOR, "#digit-result tr[data-model]")]
        assert all(text.startswith(("sure at 95%", "or unsure:", "unsure: no class")) for text in sets), sets

        photo = tmp_path / "photo.jpg"
        write_jpeg(photo, size=(320, 240))
        browser.find_element(By.ID, "photo-file").send_keys(str(photo))
        browser.find_element(By.ID, "photo-predict").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#photo-result .class"))
        assert browser.find_element(By.CSS_SELECTOR, "#photo-result .class").text in ("cat", "dog")
        assert "95%" in browser.find_element(By.CSS_SELECTOR, "#photo-result .set").text

        field = browser.find_element(By.ID, "GrLivArea")
        field.clear()
        field.send_keys("2400")
        browser.find_element(By.ID, "house-predict").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#house-result .price"))
        assert browser.find_element(By.CSS_SELECTOR, "#house-result .price").text.startswith("$")
        assert "95% interval" in browser.find_element(By.ID, "house-result").text
        assert not browser.find_elements(By.ID, "house-out-of-range")  # 2400 sq ft: houses it has seen
        field.clear()
        field.send_keys("9000")  # larger than any house of the training split: priced, and said so
        browser.find_element(By.ID, "house-predict").click()
        wait.until(lambda b: b.find_elements(By.ID, "house-out-of-range"))
        assert "GrLivArea" in browser.find_element(By.ID, "house-out-of-range").text

        browser.save_screenshot(str(tmp_path / "demo.png"))
        if os.environ.get("ZOO_DEMO_SCREENSHOT"):  # how reports/demo/demo.png is made
            Path(os.environ["ZOO_DEMO_SCREENSHOT"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp_path / "demo.png", os.environ["ZOO_DEMO_SCREENSHOT"])
    finally:
        browser.quit()


# --- every request answered: load, malformed requests, bombs, out-of-range inputs ---------------

def raw_post(port: int, path: str, body: bytes, headers: dict, timeout=60):
    """(status, headers, JSON body) of a POST sent as given: any Content-Length, or none."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds no image data: a decompression
    bomb as far as any reader that trusts its header is concerned (a few dozen bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


HOUSE = {"OverallQual": 7, "YearBuilt": 2001, "TotalBsmtSF": 1000, "GrLivArea": 1800}


def test_under_load_every_request_is_answered_200_or_503_never_reset(demo_url, capsys):
    """Tens of clients at once, a few hundred requests: each gets a status (no reset, no silent close)."""
    import io
    import time
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    port = int(demo_url.rsplit(":", 1)[1])
    photo = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 90, 60)).save(photo, "JPEG")
    requests = [("/api/house", json.dumps({**HOUSE, "GrLivArea": 1000 + i}).encode()) for i in range(180)] + \
               [("/api/photo", photo.getvalue())] * 60

    def send(request):
        start = time.perf_counter()
        try:
            status, headers, _ = raw_post(port, request[0], request[1], {"Content-Length": str(len(request[1]))})
        except OSError as err:  # a reset or a closed connection: what this test is here to catch
            return type(err).__name__, time.perf_counter() - start, {}
        return status, time.perf_counter() - start, headers

    start = time.perf_counter()
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(send, requests, timeout=300))
    seconds = time.perf_counter() - start
    statuses = [status for status, _, _ in results]
    latencies = sorted(latency for _, latency, _ in results)
    with capsys.disabled():
        print(f"\ndemo under load: {len(results)} requests, 30 clients, {seconds:.1f} s: "
              f"{statuses.count(200)} x 200, {statuses.count(503)} x 503; latency p50 "
              f"{latencies[len(latencies) // 2]:.2f} s, p99 {latencies[int(0.99 * (len(latencies) - 1))]:.2f} s")
    assert len(results) == len(requests) and set(statuses) <= {200, 503}, sorted(set(map(str, statuses)))
    assert statuses.count(200) >= len(requests) // 2
    assert all(headers.get("Retry-After") for status, _, headers in results if status == 503)


def test_a_full_queue_answers_503_with_retry_after_at_once(monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor

    from zoo import demo

    monkeypatch.setattr(demo, "answer", lambda models, route, body: time.sleep(0.5) or {"ok": True})
    server = demo.serve("127.0.0.1", 0, demo.Queue(running=1, waiting=1))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = json.dumps(HOUSE).encode()
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: raw_post(server.server_port, "/api/house", body,
                                                       {"Content-Length": str(len(body))}), range(6)))
    finally:
        server.shutdown()
        server.server_close()
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(200) >= 2 and statuses.count(503) >= 1 and set(statuses) == {200, 503}, statuses
    busy = next(r for r in results if r[0] == 503)
    assert busy[1]["Retry-After"] == "1" and "busy" in busy[2]["error"]


@pytest.mark.parametrize("route, body, headers, status, words", [
    ("/api/digit", b"[1, 2]", None, 400, "not an object"),
    ("/api/house", b"[1, 2]", None, 400, "not an object"),
    ("/api/house", b"null", None, 400, "not an object"),
    ("/api/digit", b'{"image": 5}', None, 400, "the drawing is not a data URL"),
    ("/api/digit", b'{"image": "data:image/png;base64,%%%"}', None, 400, "the drawing is not a data URL"),
    ("/api/house", b'{"OverallQual": {"a": 1}}', None, 400, 'the house: OverallQual {"a": 1} is not a finite number'),
    ("/api/house", b"{not json", None, 400, "not JSON"),
    ("/api/house", b"{}", {"Content-Length": "abc"}, 400, "is not a number of bytes"),
    ("/api/house", b"{}", {"Content-Length": "-5"}, 400, "is not a number of bytes"),
    ("/api/house", b"{}", {}, 411, "Content-Length"),
    ("/api/photo", b"x" * 100, {"Content-Length": str(21 * 2**20)}, 413, "over the demo's 20 MB"),
    ("/api/photo", b"not an image", None, 400, "the photo is not an image Pillow can read"),
])
def test_malformed_requests_get_a_json_error_naming_the_users_input(demo_url, route, body, headers, status, words):
    port = int(demo_url.rsplit(":", 1)[1])
    got, _, answer = raw_post(port, route, body, {"Content-Length": str(len(body))} if headers is None else headers)
    assert got == status and words in answer["error"], answer
    assert "/tmp" not in answer["error"] and "input." not in answer["error"]


def test_bombs_are_refused_from_their_header_quickly(demo_url):
    import time

    port = int(demo_url.rsplit(":", 1)[1])
    for width in (20000, 12000):  # over Pillow's own bomb limit, and under it but over the zoo's
        bomb = png_header(width, width)
        start = time.perf_counter()
        status, _, answer = raw_post(port, "/api/photo", bomb, {"Content-Length": str(len(bomb))})
        assert status == 400 and f"{width * width / 1e6:.0f} megapixels" in answer["error"], answer
        assert "up to 50 megapixels" in answer["error"] and answer["error"].startswith("the photo is")
        assert time.perf_counter() - start < 5
        digit = json.dumps({"image": "data:image/png;base64," + base64.b64encode(bomb).decode()}).encode()
        status, _, answer = raw_post(port, "/api/digit", digit, {"Content-Length": str(len(digit))})
        assert status == 400 and "megapixels" in answer["error"] and answer["error"].startswith("the drawing is")


def test_impossible_houses_are_refused_and_unseen_ones_flagged(demo_url):
    status, answer = post(f"{demo_url}/api/house", json.dumps(
        {"OverallQual": -5, "YearBuilt": -2001, "TotalBsmtSF": -1000, "GrLivArea": -1800}).encode())
    assert status == 400 and "is impossible" in answer["error"] and answer["error"].startswith("the house: ")
    status, answer = post(f"{demo_url}/api/house", json.dumps({**HOUSE, "GrLivArea": 0}).encode())
    assert status == 400 and "GrLivArea 0 is impossible" in answer["error"]
    status, answer = post(f"{demo_url}/api/house", json.dumps(HOUSE).encode())
    assert status == 200 and answer["out_of_range"] == []
    status, answer = post(f"{demo_url}/api/house", json.dumps({**HOUSE, "GrLivArea": 9000, "YearBuilt": 2030}).encode())
    assert status == 200 and answer["out_of_range"] == ["YearBuilt", "GrLivArea"]


def test_fuzzed_requests_to_the_three_endpoints_always_get_a_json_answer(demo_url):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    port = int(demo_url.rsplit(":", 1)[1])
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                               lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                           max_size=4), max_leaves=12)
    house_like = st.fixed_dictionaries({k: st.one_of(st.integers(-10**6, 10**6), st.floats(), st.text(max_size=8))
                                        for k in HOUSE})
    bodies = st.binary(max_size=2000) | json_values.map(lambda v: json.dumps(v).encode()) | \
        house_like.map(lambda v: json.dumps(v).encode())
    lengths = st.sampled_from(["exact", "fewer", "missing", "abc", "-5", "1e3", "0", "0x10"])
    odd = st.dictionaries(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).map(lambda k: "X-" + k),
                          st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40), max_size=3)

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(route=st.sampled_from(["/api/digit", "/api/photo", "/api/house"]), body=bodies, length=lengths,
           extra=odd, kind=st.sampled_from(["application/json", "application/octet-stream", "text/plain", "x/\u00e9"]))
    def one_request(route, body, length, extra, kind):
        headers = {**extra, "Content-Type": kind.encode("latin-1", "replace").decode("latin-1")}
        if length in ("exact", "fewer"):  # fewer: the body runs on past its stated length
            headers["Content-Length"] = str(len(body) - (length == "fewer" and len(body) > 0))
        elif length != "missing":
            headers["Content-Length"] = length
        status, _, answer = raw_post(port, route, body, headers, timeout=60)
        assert status in (200, 400, 411, 413) and isinstance(answer, dict), (status, answer)
        assert status == 200 or set(answer) == {"error"}

    one_request()
    with urllib.request.urlopen(demo_url, timeout=30) as page:  # and the server still serves the page
        assert page.status == 200 and b"Draw a digit" in page.read()


def test_concurrent_inputs_share_batches_and_each_gets_its_own_rows_a_bad_one_failing_alone():
    """The demo's Batcher (issue 56): inputs of concurrent requests go through the model together,
    each request gets the rows of its own input, and an input that cannot run fails only its request."""
    from concurrent.futures import ThreadPoolExecutor

    import keras
    import numpy as np

    from zoo.core import predict_outputs
    from zoo.demo import Batcher

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="score")(inputs))
    batcher = Batcher(model, max_batch=16, window=0.05)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(1 + i % 3, 3)).astype("float32") for i in range(24)] + [np.zeros((1, 5), "float32")]
    with ThreadPoolExecutor(len(xs)) as pool:
        futures = [pool.submit(batcher, x) for x in xs]
    for x, future in zip(xs[:-1], futures):
        np.testing.assert_allclose(future.result()["score"], predict_outputs(model, x)["score"], rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception):
        futures[-1].result()  # 5 numbers for a model of 3: its own request fails, no other
    assert batcher.batches < len(xs)  # requests shared model calls


def test_a_lone_request_runs_without_waiting_out_the_window():
    """With ``pending`` (the server's requests in flight), a batch that holds every request in flight
    runs at once: one client is not slowed by the batching window meant for many."""
    import time

    import keras
    import numpy as np

    from zoo.demo import Batcher

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="score")(inputs))
    x = np.ones((1, 3), "float32")
    waiting, alone = Batcher(model, window=1.0), Batcher(model, window=1.0, pending=lambda: 1)
    alone(x), waiting(x)  # traced
    start = time.perf_counter()
    alone(x)
    assert time.perf_counter() - start < 0.5
    start = time.perf_counter()
    waiting(x)
    assert time.perf_counter() - start >= 1.0
