"""The detect page: what it holds, and what a real browser (headless Chromium) does with it."""
import shutil
import tempfile

import pandas as pd
import pytest

from actionhas.data.video_writer import write_event_video
from actionhas.reporting.detect_page import OPEN_FIRST, VideoResult, video_source, write_detect_page

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _instances(*rows):
    return pd.DataFrame(rows, columns=["label", "start", "end", "score"])


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A page in out/ for a 3 s VP8 video one folder up, a copied one, a store-only video and a failure."""
    d = tmp_path_factory.mktemp("page")
    video = write_event_video(d / "walk & <run>.webm", 3.0, 15, [("bar", 1.2, 2.4)], size=(64, 48))
    out = d / "out"
    out.mkdir()
    from PIL import Image

    Image.new("RGB", (20, 10), "white").save(out / "timeline_walk.png")
    results = [
        VideoResult("walk & <run>", _instances(("Bars", 1.2, 2.4, 0.9), ("Squares", 0.4, 0.8, 0.3)), 3.0,
                    {"Bars": 0.93, "Squares": 0.21}, "timeline_walk.png", video_source(video, out)),
        VideoResult("copied", _instances(("Bars", 2.0, 2.9, 0.5)), 3.0, {"Bars": 0.6},
                    source=video_source(video, out, copy=True)),
        VideoResult("store_only", _instances(("Bars", 30.0, 45.5, 0.7)), 90.0),
        VideoResult("broken", _instances(), failure="no frame could be decoded"),
    ]
    return write_detect_page(results, out, "runs/<has>", "Classes localized: p >= 0.20."), video


def test_page_escapes_names_links_videos_relatively_and_lists_failures(page):
    path, video = page
    text = path.read_text()
    assert "walk &amp; &lt;run&gt;" in text and "<run>" not in text.replace("</", "")
    assert 'data-src="../walk%20%26%20%3Crun%3E.webm"' in text
    assert 'data-src="videos/walk%20%26%20%3Crun%3E.webm"' in (path.parent / "index.html").read_text()
    assert (path.parent / "videos" / video.name).read_bytes() == video.read_bytes()
    assert "<b>broken</b>: no frame could be decoded" in text
    assert "Classes localized: p &gt;= 0.20." in text
    assert "http://" not in text and "https://" not in text
    assert text.count('<details class="video"') == 3 and text.count(" open>") == min(3, OPEN_FIRST)


def test_page_ticks_short_videos_in_seconds_and_long_ones_in_mmss(page):
    text = page[0].read_text()
    assert ">1.5</span>" in text and ">3</span>" in text
    assert "start (s)" in text and ">1.2</td>" in text
    assert ">1:30</span>" in text and "start (m:ss)" in text and ">0:45.5</td>" in text


def _browser(tmp_path):
    missing = [name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not found]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("the selenium package")
    if missing:
        pytest.skip(f"no browser to test the page in: {', '.join(missing)} not installed "
                    "(apt-get install chromium chromium-driver; pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def test_clicking_an_instance_in_chromium_seeks_the_player_to_its_start(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser(tmp_path)
    try:
        driver.get(page[0].as_uri())
        players = driver.find_elements(By.TAG_NAME, "video")
        assert len(players) == 2
        WebDriverWait(driver, 20).until(lambda d: all(d.execute_script(
            "return arguments[0].readyState >= 1 || arguments[0].error !== null", v) for v in players))
        states = [driver.execute_script("var v = arguments[0]; return [v.readyState, v.error && v.error.message,"
                                        " v.duration, v.currentTime]", v) for v in players]
        assert all(ready >= 1 and error is None and duration == pytest.approx(3.0, abs=0.1) and now == 0
                   for ready, error, duration, now in states), states
        first = players[0]
        driver.find_element(By.CSS_SELECTOR, '#video-0 .mark[data-t="1.200"]').click()
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return arguments[0].seeking === false", first))
        assert driver.execute_script("return arguments[0].currentTime", first) == pytest.approx(1.2, abs=0.05)
        driver.find_element(By.CSS_SELECTOR, '#video-1 tr.seek[data-t="2.000"]').click()
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(
            "return Math.abs(arguments[0].currentTime - 2.0) < 0.05", players[1]))
        cursor = driver.execute_script("return document.querySelector('#video-1 .cursor').style.left")
        assert float(cursor.rstrip("%")) == pytest.approx(100 * 2.0 / 3.0, abs=0.5)
        images = driver.execute_script("return Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth])")
        assert all(complete and width > 0 for _, complete, width in images), images
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()
