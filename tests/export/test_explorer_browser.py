"""The style explorer end to end, in a real headless browser.

`keras-stylegan explore --network tiny.keras --port 0` (a tiny 32x32 network
whose noise shows) runs as a subprocess (loopback only: the URL it prints must be 127.0.0.1); Debian's
Chromium, driven by Selenium through /usr/bin/chromedriver (named explicitly,
so Selenium Manager never looks for a driver online), opens the page. The
browser reaches nothing but loopback (a dead proxy for everything else), and
the page must load nothing from another origin.

Checked: the page loads and describes the model; every image it shows is,
pixel for pixel, the PNG its link points to (read back from the page through
a canvas, fetched again here over HTTP); changing psi and the noise mode
changes the pixels; the style-mixing grid renders in the paper's layout, the
layer preset changes the mixes but not the sources, and mixing every layer
gives the column's image; a server error (a seed above 2**32, a layer out of
range) and a bad seed range are shown on the page. Every wait is bounded.

Chromium and chromedriver come from `tests/browser/ensure_chromium.sh` (which
`make test` runs); without them the test skips, or fails when CI is set.
"""

import base64
import io
import os
import re
import subprocess
import sys
import time
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from helpers.http_client import request as http_request
from helpers.noisy import noisy_generator

# ~30 s (a browser and an explore subprocess): `make test` runs it, `make test-fast` not.
pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT = 180  # the explore subprocess: imports, builds and warms up the network
WAIT = 90  # any one update of the page
URL_LINE = re.compile(r"style explorer: open (http://[^/\s]+)/ in a browser")


def need(ok, reason):
    """Skips the test if not `ok` (fails under CI, where the browser must be there)."""
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explore")
    network = folder / "tiny.keras"
    noisy_generator("stylegan-tiny-32").save(network)  # a .keras whose noise shows
    log_path = folder / "explore.log"
    log = open(log_path, "w")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_stylegan.cli", "explore", "--network", str(network),
         "--port", "0", "--max-batch", "16"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        yield dict(proc=proc, log_path=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def server_url(server):
    """The URL the explore command printed, once it serves (bounded wait)."""
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline and server["proc"].poll() is None:
        m = URL_LINE.search(server["log_path"].read_text())
        if m:
            return m.group(1)
        time.sleep(0.5)
    raise AssertionError("keras-stylegan explore did not start:\n"
                         + server["log_path"].read_text()[-3000:])


@pytest.fixture(scope="module")
def browser():
    need(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
         f"{CHROMIUM} or {CHROMEDRIVER} not found: run tests/browser/ensure_chromium.sh as "
         "root, or apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        need(False, "selenium is not installed: pip install -r requirements.txt")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,1000", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync",
                # Loopback only: anything else goes to a proxy that is not there.
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(WAIT)
        driver.set_script_timeout(WAIT)
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser, server):
    """The explorer, freshly loaded and rendered: (driver, base URL)."""
    url = server_url(server)
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1"  # explore's default: loopback
    browser.get(url + "/")
    for section in ("images", "mix"):
        wait_render(browser, section, 0)
    return browser, url


# Reading the page ----------------------------------------------------------------------------

def el(driver, element_id):
    return driver.find_element("id", element_id)


def renders(driver, section):
    return int(el(driver, f"{section}-section").get_attribute("data-renders"))


def wait_render(driver, section, after, until=lambda d: True):
    """Waits (bounded) for `section` to finish a render after its `after`-th one, with `until`."""
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d):
        box = el(d, f"{section}-section")
        return (int(box.get_attribute("data-renders")) > after
                and box.get_attribute("data-state") in ("ready", "error") and until(d))
    WebDriverWait(driver, WAIT).until(done)
    return el(driver, f"{section}-section").get_attribute("data-state")


def shown_pixels(driver, img):
    """The pixels the page shows in `img`, read back through a canvas (RGB uint8)."""
    data_url = driver.execute_script("""
        const img = arguments[0];
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        canvas.getContext('2d').drawImage(img, 0, 0);
        return canvas.toDataURL('image/png');""", img)
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def fetched_pixels(base, href):
    """The PNG at the page's link `href`, fetched here over HTTP."""
    parts = urllib.parse.urlsplit(href)
    port = urllib.parse.urlsplit(base).port
    status, ctype, data = http_request(port, "GET", f"{parts.path}?{parts.query}", timeout=60)
    assert (status, ctype) == (200, "image/png"), data[:300]
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def seed_images(driver, base):
    """[(shown pixels, pixels of its PNG link, link)] of the Images section."""
    out = []
    for figure in driver.find_elements("css selector", "#images figure"):
        img = figure.find_element("tag name", "img")
        href = figure.find_element("tag name", "a").get_attribute("href")
        out.append((shown_pixels(driver, img), fetched_pixels(base, href), href))
    return out


def set_text(driver, element_id, text):
    box = el(driver, element_id)
    box.clear()
    box.send_keys(text)


def choose(driver, element_id, value):
    from selenium.webdriver.support.ui import Select
    Select(el(driver, element_id)).select_by_value(value)


# The tests -----------------------------------------------------------------------------------

def test_page_loads_and_shows_each_seed_as_its_png(page):
    driver, base = page
    assert "tiny version 1 (generator)" in el(driver, "model-info").text
    assert "32\u00d732" in el(driver, "model-info").text
    assert not el(driver, "error").is_displayed()
    images = seed_images(driver, base)
    assert len(images) == 4  # the default seeds 0-3
    for shown, fetched, href in images:
        assert shown.shape == (32, 32, 3) and np.array_equal(shown, fetched), href
    assert not np.array_equal(images[0][0], images[1][0])  # different seeds differ
    # Offline: every resource the page loaded came from this server.
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)")
    assert loaded and all(u.startswith(base + "/") for u in loaded), loaded
    assert not [e for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_changing_psi_and_noise_changes_the_images(page):
    driver, base = page
    before = seed_images(driver, base)
    n = renders(driver, "images")
    set_text(driver, "psi", "-0.5")
    assert wait_render(driver, "images", n, lambda d: "psi=-0.5" in d.find_element(
        "css selector", "#images a").get_attribute("href")) == "ready"
    after_psi = seed_images(driver, base)
    for (old, _, _), (new, fetched, href) in zip(before, after_psi):
        assert "psi=-0.5" in href and np.array_equal(new, fetched)
        assert not np.array_equal(old, new), href
    n = renders(driver, "images")
    previous_noise = el(driver, "noise").get_attribute("value")
    other = "const" if previous_noise == "seed" else "seed"
    choose(driver, "noise", other)
    assert wait_render(driver, "images", n, lambda d: f"noise={other}" in d.find_element(
        "css selector", "#images a").get_attribute("href")) == "ready"
    for (old, _, _), (new, fetched, href) in zip(after_psi, seed_images(driver, base)):
        assert np.array_equal(new, fetched) and not np.array_equal(old, new), href


def tiles(fig, size=32):
    rows, cols = fig.shape[0] // size, fig.shape[1] // size
    return [[fig[r * size:(r + 1) * size, c * size:(c + 1) * size] for c in range(cols)]
            for r in range(rows)]


def test_style_mixing_grid(page):
    driver, base = page
    assert el(driver, "styles-preset").get_attribute("value") == "coarse"
    assert el(driver, "styles").get_attribute("value") == "0-3"
    assert not driver.find_element("css selector", "#styles-preset option[value=fine]") \
        .is_enabled()  # a 32 px network has no fine layers
    coarse = shown_pixels(driver, el(driver, "mix-img"))
    assert coarse.shape == (4 * 32, 4 * 32, 3)  # rows 0-2, columns 3-5 and the sources
    assert np.array_equal(coarse, fetched_pixels(base, el(driver, "mix-link")
                                                 .get_attribute("href")))
    cells = driver.find_elements("css selector", "#mix-cells a")
    assert [c.text for c in cells] == [f"{r}\u00d7{c}" for r in range(3) for c in range(3, 6)]
    one = fetched_pixels(base, cells[5].get_attribute("href"))  # row 1, column 5
    assert np.array_equal(one, tiles(coarse)[2][3])

    n = renders(driver, "mix")
    choose(driver, "styles-preset", "middle")
    assert wait_render(driver, "mix", n, lambda d: "styles=middle" in el(
        d, "mix-link").get_attribute("href")) == "ready"
    assert el(driver, "styles").get_attribute("value") == "4-7"
    middle = tiles(shown_pixels(driver, el(driver, "mix-img")))
    old = tiles(coarse)
    for k in range(1, 4):  # the sources stay, the mixes change
        assert np.array_equal(middle[0][k], old[0][k]) and np.array_equal(middle[k][0], old[k][0])
        assert not np.array_equal(middle[k][k], old[k][k])

    n = renders(driver, "mix")
    choose(driver, "noise", "const")  # the stored noise maps: the same for every cell
    set_text(driver, "styles", "0-7")  # every layer: each cell is its column's image
    assert wait_render(driver, "mix", n, lambda d: "styles=0-7" in el(
        d, "mix-link").get_attribute("href") and "noise=const" in el(
        d, "mix-link").get_attribute("href")) == "ready"
    assert el(driver, "styles-preset").get_attribute("value") == "custom"
    every = tiles(shown_pixels(driver, el(driver, "mix-img")))
    for r in range(1, 4):
        for c in range(1, 4):
            assert np.abs(every[r][c].astype(int) - every[0][c].astype(int)).max() <= 1


def test_errors_are_shown_on_the_page(page):
    driver, _ = page
    n = renders(driver, "images")
    set_text(driver, "seeds", "4294967296")  # the server refuses it (RandomState's bound)
    assert wait_render(driver, "images", n, lambda d: el(d, "images-error").is_displayed()
                       and "4294967296" in el(d, "seeds").get_attribute("value")) == "error"
    text = el(driver, "images-error").text
    assert "Server error 400" in text and "Seeds must be below 2**32" in text, text

    n = renders(driver, "images")
    set_text(driver, "seeds", "1-x")  # the page's own check
    assert wait_render(driver, "images", n, lambda d: "Bad seed range" in el(
        d, "images-error").text) == "error"
    assert not driver.find_elements("css selector", "#images figure")

    n = renders(driver, "mix")
    set_text(driver, "styles", "9")
    assert wait_render(driver, "mix", n, lambda d: el(d, "mix-error").is_displayed()) == "error"
    text = el(driver, "mix-error").text
    assert "Server error 400" in text and "[0, 7]" in text, text
    assert not el(driver, "mix-figure").is_displayed()

    n = renders(driver, "images")
    set_text(driver, "seeds", "5")  # and the page recovers
    assert wait_render(driver, "images", n) == "ready"
    assert not el(driver, "images-error").is_displayed()
