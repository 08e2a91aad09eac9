"""Train page under Streamlit's AppTest, with real worker processes.

These tests train for real (two frozen MobileNets at 32 px on the sample),
so they need the offline weights of mobilenet and mobilenet_v2.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tl_core import jobs
from tl_core.backbones import weights_available
from tl_core.datasets import open_dataset

APP_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = APP_ROOT / "assets" / "samples" / "fashion_mnist_5.zip"
DONE = ("finished", "stopped", "failed")
RACE_TIMEOUT_S = 240

pytestmark = pytest.mark.skipif(
    not (weights_available("mobilenet") and weights_available("mobilenet_v2")),
    reason="offline weights of mobilenet and mobilenet_v2 are not prepared",
)


@pytest.fixture
def sample_id(monkeypatch) -> str:
    monkeypatch.chdir(APP_ROOT)  # workers run `python -m tl_core.worker` from here
    return open_dataset(SAMPLE).dataset_id


@pytest.fixture
def stop_all_runs():
    """Stop every run a test left behind, so no worker outlives the test."""
    yield
    for info in jobs.list_runs():
        if info.status not in DONE:
            jobs.stop(info.run_id)


def open_train_page(dataset_id: str, race: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP_ROOT / "app.py"), default_timeout=60)
    at.query_params.update({"lang": "en", "dataset": dataset_id})
    if race:
        at.query_params["race"] = race
    at.run()
    return at.switch_page("pages/2_Train.py").run()


def start_race(at: AppTest, backbones: list[str], epochs: int, augmentation=False) -> AppTest:
    at.multiselect(key="train.backbones").set_value(backbones)
    at.selectbox(key="train.image_size").set_value(32)
    at.number_input(key="train.epochs").set_value(epochs)
    at.checkbox(key="train.augmentation").set_value(augmentation)
    at.run()
    return at.button(key="train.start").click().run()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(1)
    return False


def status_badges(at: AppTest) -> list[str]:
    return [markdown.value for markdown in at.markdown if "-badge[" in markdown.value]


def test_race_of_two_finishes(sample_id, stop_all_runs):
    at = start_race(open_train_page(sample_id), ["mobilenet_v2", "mobilenet"], epochs=1)
    assert not at.exception

    runs = jobs.list_runs()
    assert len(runs) == 2
    assert {info.config["backbone"] for info in runs} == {"mobilenet_v2", "mobilenet"}
    assert len({info.job["race"] for info in runs}) == 1
    assert at.query_params["race"] == runs[0].job["race"]

    finished = wait_for(lambda: all(info.status in DONE for info in jobs.list_runs()), RACE_TIMEOUT_S)
    assert finished, [info.status for info in jobs.list_runs()]
    assert [info.status for info in jobs.list_runs()] == ["finished", "finished"]

    at.run()
    assert not at.exception
    badges = status_badges(at)
    assert len(badges) == 2
    assert all("badge[finished]" in badge for badge in badges)
    assert all("features cached" in badge for badge in badges)
    assert len(at.get("plotly_chart")) == 2


def test_new_session_shows_race(sample_id, stop_all_runs):
    # A browser refresh is a new session: the race comes back from the URL and the run folders.
    first = start_race(open_train_page(sample_id), ["mobilenet_v2"], epochs=1)
    race = first.query_params["race"]
    assert wait_for(lambda: all(info.status in DONE for info in jobs.list_runs()), RACE_TIMEOUT_S)

    at = open_train_page(sample_id, race=race)
    assert not at.exception
    assert at.query_params["race"] == race
    assert len(status_badges(at)) == 1
    assert len(at.get("plotly_chart")) == 2


def test_stop_button_stops_run(sample_id, stop_all_runs):
    # Augmentation turns off the feature cache, so 200 epochs run long enough to be stopped.
    at = start_race(open_train_page(sample_id), ["mobilenet"], epochs=200, augmentation=True)
    run = jobs.list_runs()[0]
    events = Path(run.folder) / "events.jsonl"
    started = wait_for(lambda: events.exists() and '"type": "batch"' in events.read_text(), 120)
    assert started

    at.run()
    at.button(key=f"train.stop.{run.run_id}").click().run()
    assert not at.exception
    assert wait_for(lambda: jobs.list_runs()[0].status in DONE, 60)

    info = jobs.list_runs()[0]
    assert info.status == "stopped"
    assert info.summary["epochs_completed"] < 200
    at.run()
    assert "badge[stopped]" in status_badges(at)[0]
    assert "features cached" not in status_badges(at)[0]


def test_cards_say_whether_features_are_cached(sample_id):
    at = open_train_page(sample_id)
    at.multiselect(key="train.backbones").set_value(["mobilenet", "mobilenet_v2"])
    at.selectbox(key="train.mode.mobilenet_v2.en").set_value("finetune")
    at.run()
    captions = [caption.value for caption in at.caption]
    assert sum(caption.startswith("Features cached") for caption in captions) == 1

    at.checkbox(key="train.augmentation").set_value(True).run()
    captions = [caption.value for caption in at.caption]
    assert not any(caption.startswith("Features cached") for caption in captions)
    assert sum(caption.startswith("No feature cache") for caption in captions) == 1


def test_train_page_without_tensorflow(sample_id):
    script = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(APP_ROOT / 'app.py')!r}, default_timeout=30)\n"
        f"at.query_params['dataset'] = {sample_id!r}\n"
        "at.run()\n"
        "at.switch_page('pages/2_Train.py').run()\n"
        "assert not at.exception, at.exception\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=APP_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]
