"""Home page (app.py) under Streamlit's AppTest."""

import json
import os
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP_ROOT = Path(__file__).resolve().parent.parent
APP = APP_ROOT / "app.py"


def run_home(locale: str | None = None, lang: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    if locale:
        at.context["locale"] = locale
    if lang:
        at.query_params["lang"] = lang
    return at.run()


def test_home_english():
    at = run_home("en-US")
    assert not at.exception
    assert at.title[0].value == "Transfer Learning Lab"
    assert at.query_params["lang"] == "en"


def test_home_chinese_from_locale():
    at = run_home("zh-CN")
    assert not at.exception
    assert at.title[0].value == "迁移学习实验室"
    assert at.query_params["lang"] == "zh"


def test_home_language_from_url():
    at = run_home("en-US", lang="zh")
    assert at.title[0].value == "迁移学习实验室"


def test_language_switch_persists_across_pages():
    at = run_home("en-US")
    at.radio(key="home.language").set_value("zh").run()
    assert at.title[0].value == "迁移学习实验室"
    at.switch_page("pages/1_Data.py").run()
    assert at.title[0].value == "数据"
    assert at.query_params["lang"] == "zh"


def test_home_has_three_steps():
    at = run_home("en-US")
    titles = [header.value for header in at.subheader]
    assert len(titles) == 3
    assert "Load data" in titles[0]
    assert "Race backbones" in titles[1]
    assert "Compare and predict" in titles[2]


def test_home_sample_button():
    at = run_home("en-US")
    button = at.button(key="home.sample")
    assert button.label == "Start with the sample dataset"
    assert not button.disabled


def test_sample_button_opens_data_page():
    at = run_home("en-US")
    at.button(key="home.sample").click().run()
    assert not at.exception
    assert at.title[0].value == "Data"
    assert at.query_params["dataset"].startswith("fashion_mnist_5-")
    stored = json.loads((Path(os.environ["TL_DATA_DIR"]) / "current_dataset.json").read_text())
    assert stored["dataset_id"] == at.query_params["dataset"]


def test_home_without_tensorflow():
    # Other tests in this process import TensorFlow, so the check runs in a fresh interpreter.
    script = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(APP)!r}, default_timeout=30).run()\n"
        "assert not at.exception, at.exception\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=APP_ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
