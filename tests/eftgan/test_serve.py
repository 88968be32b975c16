"""``eftgan serve``: the callbacks' functions without a browser, then the real app driven by
headless Chromium (skipped, with the reason, where Chromium or its driver is missing)."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dash")
pytest.importorskip("botorch")

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


def upload(data: bytes) -> str:
    return "data:text/csv;base64," + base64.b64encode(data).decode()


def observed_csv() -> bytes:
    rng = np.random.default_rng(0)
    x = rng.random((8, 2))
    frame = pd.DataFrame(x, columns=["x1", "x2"]).assign(y=((x - 0.4) ** 2).sum(1))
    return frame.to_csv(index=False).encode()


def test_uploads_are_decoded_and_limited():
    from eftgan.errors import UserError
    from eftgan.serve import decode_upload

    assert decode_upload(upload(b"a,b\n1,2\n")) == b"a,b\n1,2\n"
    with pytest.raises(UserError, match="larger than the limit"):
        decode_upload(upload(b"x" * 2000), limit=1000)
    with pytest.raises(UserError, match="not a file"):
        decode_upload(None)
    with pytest.raises(UserError, match="not a file"):
        decode_upload("no comma here")


def test_design_batch_gives_rows_and_next_csv():
    from eftgan.errors import UserError
    from eftgan.serve import DEFAULT_SPACE, design_batch

    rows, text, fig = design_batch(observed_csv(), json.dumps(DEFAULT_SPACE), batch=2)
    assert len(fig.data) == 6, "band, mean and acquisition for each of two variables"
    assert len(rows) == 2 and set(rows[0]) == {"x1", "x2", "mean", "std", "acquisition"}
    assert text.splitlines()[0] == "x1,x2,mean,std,acquisition"
    with pytest.raises(UserError, match="not JSON"):
        design_batch(observed_csv(), "{nope", batch=2)
    with pytest.raises(UserError, match="missing y"):
        design_batch(b"x1,x2\n0.1,0.2\n", json.dumps(DEFAULT_SPACE))


def test_explore_figure_is_a_ternary_map():
    from eftgan.errors import UserError
    from eftgan.serve import explore_figure

    fig = explore_figure(["Fe", "Ni", "Co"], "ms_mub_per_atom", "fcc", 0.1)
    assert fig.data[0].type == "scatterternary" and len(fig.data[0].a) == 66
    with pytest.raises(UserError, match="three different"):
        explore_figure(["Fe", "Fe", "Co"], "ms_mub_per_atom", "fcc")
    with pytest.raises(UserError, match=r"between 0\.02"):
        explore_figure(["Fe", "Ni", "Co"], "ms_mub_per_atom", "fcc", 0.01)


def test_predict_files_keeps_uploads_inside_the_workdir(tmp_path: Path):
    from eftgan.errors import UserError
    from eftgan.serve import predict_files

    data = (EXAMPLES / "CoCrNi_random.vasp").read_bytes()
    names = ["../../etc/CoCrNi_random.vasp", "..", "a\0b.vasp", "x" * 300 + ".vasp"]
    rows = predict_files([(n, data) for n in names], tmp_path)
    assert rows[0]["structure"] == "CoCrNi_random.vasp" and "eform_ev_per_atom" in rows[0]
    assert [r["structure"] for r in rows[1:3]] == ["structure", "ab.vasp"]
    assert list(tmp_path.iterdir()) == [], "nothing is left behind"
    with pytest.raises(UserError, match="uncompressed"):
        predict_files([("x.vasp.gz", data)], tmp_path)
    with pytest.raises(UserError, match="is not a structure file"):
        predict_files([("x.vasp", b"nonsense")], tmp_path)


def test_a_loopback_app_refuses_other_host_names(tmp_path: Path):
    from eftgan.serve import create_app

    client = create_app(tmp_path).server.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400


def test_batch_sizes_from_the_page_are_checked():
    from eftgan.errors import UserError
    from eftgan.serve import check_batch

    assert check_batch("5") == 5 and check_batch(3.0) == 3
    for bad in (None, 0, 2.5, "x", 10**6):
        with pytest.raises(UserError, match="whole number"):
            check_batch(bad)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no chromium/chromedriver on this machine (`make test` installs them with apt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    drv.downloads = downloads
    yield drv
    drv.quit()


def _wait(predicate, timeout: float = 60.0):
    end, last = time.time() + timeout, None
    while time.time() < end:
        try:
            value = predicate()
        except Exception as exc:  # the page is still building
            value, last = None, exc
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for the page (last error: {last!r})")


def test_the_app_in_a_real_browser(browser, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from werkzeug.serving import make_server

    from eftgan.serve import create_app

    server = make_server("127.0.0.1", 0, create_app(tmp_path / "work").server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _drive(browser, server.server_port, tmp_path, By, Keys)
    finally:
        server.shutdown()


def _drive(browser, port: int, tmp_path: Path, By, Keys) -> None:
    browser.get(f"http://127.0.0.1:{port}/")

    def points() -> int:
        return len(browser.find_elements(By.CSS_SELECTOR, "#map path.point"))

    assert _wait(lambda: points() == 231), "the Fe-Ni-Co map at step 0.05"
    step = browser.find_element(By.ID, "step")
    step.clear()
    step.send_keys("0.1", Keys.ENTER)
    assert _wait(lambda: points() == 66), "the map follows the grid step"
    assert "step 0.1" in browser.find_element(By.CSS_SELECTOR, "#map .gtitle").text

    browser.find_element(By.XPATH, "//*[contains(text(), 'Design')]").click()
    csv = tmp_path / "observed.csv"
    csv.write_bytes(observed_csv())
    _wait(lambda: browser.find_element(By.CSS_SELECTOR, "#observed input[type=file]"))
    browser.find_element(By.CSS_SELECTOR, "#observed input[type=file]").send_keys(str(csv))
    _wait(lambda: "observed.csv" in browser.find_element(By.ID, "observed-name").text)
    browser.find_element(By.ID, "suggest").click()
    _wait(lambda: "points suggested" in browser.find_element(By.ID, "design-msg").text, 120)
    browser.find_element(By.ID, "get").click()
    got = _wait(lambda: list(browser.downloads.glob("next*.csv")))
    frame = pd.read_csv(got[0])
    assert list(frame.columns) == ["x1", "x2", "mean", "std", "acquisition"] and len(frame) == 5
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2\n0.1,0.2\n")
    browser.find_element(By.CSS_SELECTOR, "#observed input[type=file]").send_keys(str(bad))
    _wait(lambda: "bad.csv" in browser.find_element(By.ID, "observed-name").text)
    browser.find_element(By.ID, "suggest").click()
    _wait(lambda: "missing y" in browser.find_element(By.ID, "design-msg").text)
    assert not browser.find_elements(By.CSS_SELECTOR, "#next-table td"), "no stale batch"
