"""The Predict page on real run folders, through Streamlit's AppTest."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

TIMEOUT = 120
APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture(autouse=True)
def private_data_root(two_runs_root, monkeypatch):
    """Point the app at the two shared runs (overrides the per-test root of conftest)."""
    monkeypatch.setenv("TL_DATA_DIR", str(two_runs_root))


def open_predict() -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.switch_page("pages/4_Predict.py").run()
    return app


def png_upload(name: str, size=(50, 40), colour=(200, 30, 30)) -> tuple[str, bytes, str]:
    buffer = io.BytesIO()
    pixels = np.zeros((size[1], size[0], 3), np.uint8) + np.array(colour, np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    return name, buffer.getvalue(), "image/png"


def bar_charts(app: AppTest) -> list[dict]:
    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    return [spec for spec in specs if spec["data"][0]["type"] == "bar"]


def test_predict_defaults_to_best_run(two_runs_root):
    newest_first = sorted((two_runs_root / "runs").iterdir(), reverse=True)
    accuracies = [json.loads((folder / "summary.json").read_text())["test_accuracy"]
                  for folder in newest_first]
    best = newest_first[accuracies.index(max(accuracies))].name  # the newest on a tie
    app = open_predict()
    assert not app.exception
    assert app.selectbox(key="predict.run.en").value == best


def test_predict_test_image(two_runs_root):
    app = open_predict()
    app.radio(key="predict.source.en").set_value("test").run()
    folder = two_runs_root / "runs" / app.selectbox(key="predict.run.en").value
    test_images = len((folder / "test_predictions.csv").read_text().splitlines()) - 1
    thumbnails = len(app.image)
    assert thumbnails == min(test_images, 12)

    app.button[0].click().run()
    assert not app.exception
    bars = bar_charts(app)
    assert len(bars) == 1
    probabilities = bars[0]["data"][0]["x"]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) <= 1.0 + 1e-6
    assert len(app.image) == thumbnails + 2  # the image and its Grad-CAM overlay


def test_predict_upload(two_runs_root):
    app = open_predict()
    app.file_uploader(key="predict.uploads").set_value(
        [png_upload("red.png"), png_upload("blue.png", colour=(30, 60, 200))]
    ).run()
    assert not app.exception
    assert len(app.error) == 0
    assert len(bar_charts(app)) == 2
    assert len(app.image) == 4


def test_predict_bad_upload(two_runs_root):
    app = open_predict()
    name, data, _ = png_upload("half.png")
    app.file_uploader(key="predict.uploads").set_value(
        [("notes.png", b"plain text, not an image", "image/png"),
         ("half.png", data[: len(data) // 2], "image/png"),
         png_upload("good.png")]
    ).run()
    assert not app.exception
    errors = [element.value for element in app.error]
    assert len(errors) == 2
    assert "notes.png" in errors[0]
    assert "half.png" in errors[1]
    assert len(bar_charts(app)) == 1


def test_predict_in_chinese(two_runs_root):
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.query_params["lang"] = "zh"
    app.run()
    app.switch_page("pages/4_Predict.py").run()
    app.file_uploader(key="predict.uploads").set_value(
        [("notes.png", b"plain text, not an image", "image/png")]
    ).run()
    assert not app.exception
    assert "无法使用 notes.png" in app.error[0].value
    assert "不是图片" in app.error[0].value


def test_predict_without_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path / "empty"))
    app = open_predict()
    assert not app.exception
    assert "No trained model yet" in app.info[0].value


DRAW_PAGES_SCRIPT = """
import sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(sys.argv[1], default_timeout=60).run()
for page in ("pages/3_Compare.py", "pages/4_Predict.py"):
    app.switch_page(page).run()
    assert not app.exception, app.exception
print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


def test_pages_draw_without_tensorflow(two_runs_root):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", DRAW_PAGES_SCRIPT, str(APP)],
        capture_output=True, text=True, timeout=120, cwd=APP.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
