"""The demo page in a real browser: headless Chromium (Debian's package) driven by Selenium draws a
digit with the mouse, uploads a photo and prices a house, and reads each answer off the page."""

from __future__ import annotations

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
    assert status == 200 and house["interval95"][0] < house["price"] < house["interval95"][1]
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

        photo = tmp_path / "photo.jpg"
        write_jpeg(photo, size=(320, 240))
        browser.find_element(By.ID, "photo-file").send_keys(str(photo))
        browser.find_element(By.ID, "photo-predict").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#photo-result .class"))
        assert browser.find_element(By.CSS_SELECTOR, "#photo-result .class").text in ("cat", "dog")

        field = browser.find_element(By.ID, "GrLivArea")
        field.clear()
        field.send_keys("2400")
        browser.find_element(By.ID, "house-predict").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#house-result .price"))
        assert browser.find_element(By.CSS_SELECTOR, "#house-result .price").text.startswith("$")
        assert "95% interval" in browser.find_element(By.ID, "house-result").text

        browser.save_screenshot(str(tmp_path / "demo.png"))
        if os.environ.get("ZOO_DEMO_SCREENSHOT"):  # how reports/demo/demo.png is made
            Path(os.environ["ZOO_DEMO_SCREENSHOT"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp_path / "demo.png", os.environ["ZOO_DEMO_SCREENSHOT"])
    finally:
        browser.quit()
