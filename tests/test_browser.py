"""The whole flow in a real browser: Debian's chromium driven by Playwright.

Load the sample, race two backbones with live curves (refreshing the page
mid-race), compare the runs, predict with a heat map, and stop a run.
Screenshots of each page go to test-artifacts/.

Set TL_REQUIRE_BROWSER=1 (CI does) to fail instead of skip when chromium or
Playwright is missing.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
RACE_TIMEOUT_S = 600

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if sync_playwright is None or not Path(CHROMIUM).exists():
    if os.environ.get("TL_REQUIRE_BROWSER") == "1":
        raise RuntimeError("Browser test needs Playwright for Python and Debian's chromium at /usr/bin/chromium.")
    pytest.skip("Playwright or /usr/bin/chromium is not installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Streamlit server on 127.0.0.1 with its own data root."""
    data_root = tmp_path_factory.mktemp("browser") / "data"
    log_path = data_root.parent / "streamlit.log"
    port = free_port()
    env = {**os.environ, "TL_DATA_DIR": str(data_root)}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"Streamlit did not start on {url}: {log_path.read_text()[-2000:]}")
    yield url, data_root
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    stop_workers(data_root)


def stop_workers(data_root: Path) -> None:
    """Kill the supervisor and workers that still train under `data_root`."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(data_root) in cmdline and "tl_core" in cmdline:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def page(browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def by_key(page, key: str):
    """Locate the element that Streamlit rendered for widget `key`.

    Streamlit turns the key into the CSS class st-key-<key>, with every
    character outside letters, digits, "-" and "_" replaced by "-".
    """
    return page.locator(".st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key))


def shoot(page, name: str) -> None:
    """Save a screenshot of the whole page, below the fold included."""
    page.wait_for_timeout(1500)  # let charts finish drawing
    # Streamlit scrolls inside its main section, so grow the viewport to fit it.
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 1000"
    )
    page.set_viewport_size({"width": 1400, "height": min(max(1000, height), 6000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def open_page(page, label: str) -> None:
    page.get_by_role("link", name=label).first.click()
    page.wait_for_load_state("networkidle")


def choose_option(combobox, label: str, attempts: int = 5) -> None:
    """Open a selectbox's list through its combobox and click the option `label`.

    A rerun that redraws the selectbox closes an open list, so opening is
    tried again until the option shows.
    """
    option = combobox.page.get_by_role("option", name=label, exact=True)
    for _ in range(attempts):
        combobox.click()
        combobox.press("ArrowDown")
        try:
            option.wait_for(state="visible", timeout=3_000)
        except PlaywrightTimeoutError:
            combobox.press("Escape")
            continue
        option.click()
        return
    pytest.fail(f"the list of {combobox} never showed the option {label!r}")


def run_folders(data_root: Path) -> list[Path]:
    runs_root = data_root / "runs"
    if not runs_root.is_dir():
        return []
    return sorted(folder for folder in runs_root.iterdir() if (folder / "job.json").exists())


def summary_status(folder: Path):
    path = folder / "summary.json"
    return json.loads(path.read_text())["status"] if path.exists() else None


def metrics_rows(folder: Path) -> int:
    path = folder / "metrics.csv"
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    pytest.fail(message)


def chart_max_epoch(page, key: str) -> float:
    """Return the largest x value over all traces of the Plotly chart `key`."""
    chart = by_key(page, key).locator(".js-plotly-plot").first
    return chart.evaluate(
        "plot => Math.max(...plot.data.flatMap(trace => (trace.x || []).map(Number)))"
    )


def test_load_sample(server, page):
    url, _ = server
    page.goto(url)
    expect(page.get_by_role("heading", name="Transfer Learning Lab")).to_be_visible()
    shoot(page, "01-home")

    page.get_by_role("button", name="Start with the sample dataset").click()
    page.wait_for_url("**/Data**")
    expect(page.get_by_text("ankle_boot").first).to_be_visible()
    shoot(page, "02-data")


def test_race_two_backbones_with_refresh(server, page):
    _, data_root = server
    open_page(page, "Train")
    epochs = by_key(page, "train.epochs").locator("input")
    epochs.fill("2")
    epochs.press("Enter")
    page.wait_for_timeout(1000)
    by_key(page, "train.start").get_by_role("button").click()

    wait_until(lambda: len(run_folders(data_root)) == 2, 30, "Start race did not queue two runs")
    folders = run_folders(data_root)
    configs = [json.loads((folder / "job.json").read_text())["config"] for folder in folders]
    assert sorted(config["backbone"] for config in configs) == ["mobilenet", "mobilenet_v2"]
    assert {config["epochs"] for config in configs} == {2}
    assert {config["image_size"] for config in configs} == {96}

    # Refresh while the first run trains: the same job and its curves come back.
    wait_until(
        lambda: any((folder / "events.jsonl").exists() and summary_status(folder) is None for folder in folders),
        RACE_TIMEOUT_S, "No run started training",
    )
    page.reload()
    expect(page.get_by_text("running").first).to_be_visible(timeout=30_000)
    expect(by_key(page, "train.loss_chart").locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    shoot(page, "03-train-after-refresh")

    wait_until(
        lambda: all(summary_status(folder) == "finished" for folder in folders),
        RACE_TIMEOUT_S, "The race did not finish",
    )
    assert all(metrics_rows(folder) == 2 for folder in folders)
    expect(page.get_by_text("finished")).to_have_count(2, timeout=30_000)
    page.wait_for_timeout(2500)  # one more fragment refresh after the last event
    assert chart_max_epoch(page, "train.loss_chart") == 2
    assert chart_max_epoch(page, "train.accuracy_chart") == 2
    shoot(page, "04-train-finished")


def test_compare_lists_both_runs(server, page):
    open_page(page, "Compare")
    # st.dataframe draws on a canvas; its cells are mirrored as ARIA grid cells.
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table).to_be_visible()
    for backbone in ("MobileNetV2 (1.0)", "MobileNet v1 (1.0)"):
        cell = table.locator("[role=gridcell]", has_text=re.compile(f"^{re.escape(backbone)}$"))
        expect(cell).to_have_count(1)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    shoot(page, "05-compare")


def test_language_switch_relabels_choices(server, page):
    try:
        check_language_switch(page)
    finally:
        # The tests below find links and buttons by their English names.
        page.get_by_text("English", exact=True).first.click()
        expect(page.get_by_role("link", name="Compare")).to_be_visible(timeout=30_000)


def check_language_switch(page) -> None:
    # Compare is open from the test above, with both runs chosen. Choice
    # widgets have one key per language (see ui/choices.py).
    expect(by_key(page, "compare.runs.en")).to_contain_text("frozen")
    page.get_by_text("简体中文", exact=True).first.click()
    chosen_runs = by_key(page, "compare.runs.zh")
    expect(chosen_runs).to_contain_text("冻结", timeout=30_000)
    expect(chosen_runs).not_to_contain_text("frozen")
    expect(chosen_runs.get_by_text("MobileNetV2 (1.0)", exact=False)).to_have_count(1)
    expect(chosen_runs.get_by_text("MobileNet v1 (1.0)", exact=False)).to_have_count(1)

    open_page(page, "训练")
    # A selectbox shows its value as the value of its combobox input, not as text.
    mode = by_key(page, "train.mode.mobilenet.zh").get_by_role("combobox")
    expect(mode).to_have_value("冻结")
    choose_option(mode, "微调顶部 K 个模块")
    expect(mode).to_have_value("微调顶部 K 个模块")
    page.get_by_text("English", exact=True).first.click()
    # The fine-tune choice made in Chinese survives, in English.
    mode = by_key(page, "train.mode.mobilenet.en").get_by_role("combobox")
    expect(mode).to_have_value("fine-tune top K", timeout=30_000)
    choose_option(mode, "frozen")
    expect(mode).to_have_value("frozen")


def test_predict_shows_heat_map(server, page):
    open_page(page, "Predict")
    page.get_by_text("Test images of this run").click()
    page.get_by_role("button", name="Classify").first.click()
    chart = by_key(page, "predict.top.0")
    expect(chart.locator(".js-plotly-plot").first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Grad-CAM", exact=False).first).to_be_visible()
    images = page.locator('[data-testid="stImage"] img')
    assert images.count() >= 2
    shoot(page, "06-predict")


def test_stop_ends_run_within_one_batch(server, page):
    _, data_root = server
    before = set(run_folders(data_root))
    open_page(page, "Train")
    epochs = by_key(page, "train.epochs").locator("input")
    epochs.fill("200")
    epochs.press("Enter")
    by_key(page, "train.augmentation").get_by_role("checkbox").check(force=True)
    page.wait_for_timeout(1000)
    by_key(page, "train.start").get_by_role("button").click()

    wait_until(lambda: len(set(run_folders(data_root)) - before) == 2, 30, "Start race did not queue two runs")
    new = sorted(set(run_folders(data_root)) - before)
    target = new[0]

    def batches_seen() -> int:
        path = target / "events.jsonl"
        if not path.exists():
            return 0
        return sum('"type": "batch"' in line for line in path.read_text().splitlines())

    wait_until(lambda: batches_seen() >= 2, RACE_TIMEOUT_S, "The run never reached its second batch")
    by_key(page, f"train.stop.{target.name}").get_by_role("button").click()
    wait_until(lambda: summary_status(target) == "stopped", 120, "Stop did not end the run")

    stop_time = (target / "STOP").stat().st_mtime
    events = [json.loads(line) for line in (target / "events.jsonl").read_text().splitlines()]
    late_batches = [event for event in events if event["type"] == "batch" and event["time"] > stop_time]
    assert len(late_batches) <= 1
    expect(page.get_by_text("stopped").first).to_be_visible(timeout=30_000)
    shoot(page, "07-train-stopped")

    for folder in new[1:]:
        by_key(page, f"train.stop.{folder.name}").get_by_role("button").click()
    wait_until(lambda: all(summary_status(folder) == "stopped" for folder in new), 120, "Second run did not stop")


def write_messy_zip(path: Path) -> Path:
    """Write a zip as a Mac user's archive tool would, with a broken image and a stray file."""
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as archive:
        for name, colour in (("猫", (200, 60, 40)), ("狗", (40, 80, 200))):
            for index in range(4):
                pixels = np.clip(np.array(colour) + rng.integers(-30, 30, (32, 32, 3)), 0, 255)
                buffer = io.BytesIO()
                Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
                archive.writestr(f"照片/{name}/{name}_{index}.png", buffer.getvalue())
                archive.writestr(f"__MACOSX/照片/{name}/._{name}_{index}.png", b"\x00\x05\x16\x07")
        archive.writestr("照片/.DS_Store", b"\x00\x00\x00\x01Bud1")
        archive.writestr("照片/猫/broken.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
        archive.writestr("照片/狗/notes.txt", "not an image")
    return path


def test_messy_zip_shows_report(server, page, tmp_path):
    zip_path = write_messy_zip(tmp_path / "phone photos.zip")
    open_page(page, "Data")
    page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(str(zip_path))

    # The sidebar names the current dataset once the upload is ingested.
    expect(page.get_by_text("phone photos.zip", exact=True).first).to_be_visible(timeout=60_000)
    grid_cells = page.locator("[role=gridcell]")
    for text in ("猫", "狗", "照片/猫/broken.jpg", "照片/狗/notes.txt"):
        expect(grid_cells.filter(has_text=re.compile(f"^{re.escape(text)}$")).first).to_be_attached()
    expect(page.get_by_text(re.compile(r"^Skipped files \(\d+\)$"))).to_be_visible()
    shoot(page, "08-data-messy-zip")

    page.get_by_text("简体中文").first.click()
    expect(page.get_by_text(re.compile(r"^跳过的文件（\d+）$"))).to_be_visible(timeout=30_000)
    expect(grid_cells.filter(has_text=re.compile("^文件不完整$|^图片数据损坏$|^不是图片$")).first).to_be_attached()
    shoot(page, "09-data-messy-zip-zh")
