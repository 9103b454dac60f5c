"""evaluation.report: the page of a tables directory, opened from file:// in a real headless chromium
(Debian's, with its own chromedriver, driven by selenium; scripts/setup.sh --dev installs both)."""
from __future__ import annotations

import gzip
import json
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_main

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results" / "default"
METHODS = ("random", "oracle")


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    """Two committed runs of the main job (random, oracle) as a tables directory, with their tables
    recomputed, one observation and one video for the browser."""
    d = tmp_path_factory.mktemp("tables")
    runs = [COMMITTED / "runs" / m for m in METHODS]
    for r in runs:
        shutil.copytree(r, d / "runs" / r.name)
    assert run_main("evaluation.tables", "--runs", *map(str, runs), "--out", str(d), "--reference").returncode == 0
    from PIL import Image

    from sim_envs.recording import write_video

    key = "Safe/00000"
    obs = d / "media" / "observations"
    obs.mkdir(parents=True)
    Image.new("RGB", (168, 168), (40, 40, 40)).save(obs / "Safe_00000.jpg")
    (obs / "index.json").write_text(json.dumps({"episodes": {key: {"file": "Safe_00000.jpg", "image_size": 336,
                                                                   "intrinsics": None}}}))
    vids = d / "media" / "videos" / "oracle"
    vids.mkdir(parents=True)
    frames = [Image.fromarray(np.full((64, 64, 3), 8 * k, np.uint8)) for k in range(30)]
    write_video(vids / "Safe_00000.mp4", frames)
    (d / "media" / "videos" / "index.json").write_text(json.dumps(
        {"videos": [{"method": "oracle", "key": key, "file": "oracle/Safe_00000.mp4", "matches_evaluation": True}]}))
    assert run_main("evaluation.report", str(d)).returncode == 0
    return d


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
              "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    yield driver
    driver.quit()


def records(tables: Path) -> list[dict]:
    out = []
    for m in METHODS:
        with gzip.open(tables / "runs" / m / "episodes.jsonl.gz", "rt") as f:
            out += [json.loads(x) for x in f]
    return out


def test_the_page_loads_from_disk_and_its_numbers_and_browser_hold_the_run(tables, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from evaluation.results.criteria import get

    browser.get((tables / "report" / "index.html").as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    # the paper's table, cell by cell as the CSV writes it
    csv = pd.read_csv(tables / "table_manipulation.csv", dtype=str, keep_default_na=False)
    dom = browser.find_element(By.CSS_SELECTOR, 'table[data-table="table_manipulation.csv"]')
    rows = dom.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == len(csv)
    for tr, (_, want) in zip(rows, csv.iterrows()):
        assert [td.get_attribute("textContent") for td in tr.find_elements(By.TAG_NAME, "td")] == list(want)
    assert any("(paper)" in r.get_attribute("data-row") for r in rows) and set(METHODS) <= {
        r.get_attribute("data-row") for r in rows}
    # the episode browser filtered to one failure reason shows exactly its episodes
    crit = get("success")
    recs = records(tables)
    counts = Counter(crit.outcome(r) for r in recs if not crit.passed(r))
    reason = min(counts, key=lambda k: (counts[k] < 3, counts[k]))  # the rarest with at least 3 episodes
    want = sorted((r["key"], r["method"]) for r in recs if crit.outcome(r) == reason)
    assert 0 < len(want) <= 100
    Select(browser.find_element(By.ID, "f-reason")).select_by_value(reason)
    count = browser.find_element(By.ID, "match-count")
    assert int(count.get_attribute("data-count")) == len(want)
    shown = sorted((tr.get_attribute("data-key"), tr.get_attribute("data-method"))
                   for tr in browser.find_elements(By.CSS_SELECTOR, "#episode-rows tr"))
    assert shown == want
    # the filmed episode: its video plays, in a codec the browser says it can play
    Select(browser.find_element(By.ID, "f-reason")).select_by_value("")
    browser.find_element(By.ID, "f-video").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#episode-rows tr")
    assert [(r.get_attribute("data-key"), r.get_attribute("data-method")) for r in rows] == [("Safe/00000", "oracle")]
    rows[0].click()
    assert browser.execute_script('return document.createElement("video").canPlayType(\'video/mp4; '
                                  'codecs="avc1.64001E"\')') in ("probably", "maybe")
    video = browser.find_element(By.CSS_SELECTOR, "#episode-detail video")
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    t0 = time.monotonic()
    while browser.execute_script("return arguments[0].currentTime", video) <= 0 and time.monotonic() - t0 < 20:
        time.sleep(0.2)
    assert browser.execute_script("return arguments[0].currentTime", video) > 0
    assert browser.execute_script("return arguments[0].error", video) is None
    caption = browser.find_element(By.CSS_SELECTOR, "#episode-detail figcaption").text
    assert "the same outcome, dq and action as the evaluated episode" in caption, caption  # matches_evaluation
    # the overlay draws every method's contact point on the observation
    assert len(browser.find_elements(By.CSS_SELECTOR, "#overlay g")) == 2
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_bad_input_is_named_and_nothing_is_written(tables, tmp_path, damage):
    d = tmp_path / "t"
    shutil.copytree(tables, d, ignore=shutil.ignore_patterns("report"))
    bad = d / "runs" / "oracle" / "run.json"
    if damage == "missing":
        bad.unlink()
    else:
        bad.write_text("{not json")
    p = run_main("evaluation.report", str(d), "--out", str(tmp_path / "out"))
    assert p.returncode == 2 and str(bad) in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "out").exists()


MEDIA_BUDGET = 15 * 2**20  # bytes of media the committed main job may hold (README.md, results/README.md)


def test_the_committed_report_has_its_videos_within_the_media_budget():
    """results/default: every method's first training seed filmed on the first episode of each category, each
    film ending as its evaluation did, every file the index names present; all media under the stated budget."""
    job = json.loads((COMMITTED / "pipeline.json").read_text())
    index = json.loads((COMMITTED / "media" / "videos" / "index.json").read_text())["videos"]
    filmed = {v["method"] for v in index}
    first = {r for r in job["runs"] if "@s" not in r or r.endswith("@s0")}
    assert filmed == first and len(index) == 30 * len(first), (filmed, len(index))
    assert all(v["matches_evaluation"] for v in index)
    videos = COMMITTED / "media" / "videos"
    assert all((videos / v["file"]).is_file() for v in index)
    size = sum(p.stat().st_size for p in (COMMITTED / "media").rglob("*") if p.is_file())
    assert 0 < size <= MEDIA_BUDGET, size
    assert (COMMITTED / "report" / "index.html").is_file()
