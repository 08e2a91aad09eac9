"""Data page under Streamlit's AppTest: the sample, uploads and broken archives."""

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import write_colour_dataset
from tl_core.datasets import open_dataset

APP_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = APP_ROOT / "assets" / "samples" / "fashion_mnist_5.zip"


def open_data_page(dataset_id: str | None = None, lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(APP_ROOT / "app.py"), default_timeout=60)
    at.query_params["lang"] = lang
    if dataset_id:
        at.query_params["dataset"] = dataset_id
    at.run()
    return at.switch_page("pages/1_Data.py").run()


def zip_bytes(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*.png")):
            archive.write(path, path.relative_to(folder.parent).as_posix())
    return buffer.getvalue()


@pytest.fixture
def sample_id() -> str:
    return open_dataset(SAMPLE).dataset_id


def test_sample_class_table(sample_id):
    at = open_data_page(sample_id)
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 5
    assert table["total"].sum() == 500
    assert list(table["train"]) == [70] * 5


def test_sample_thumbnails_and_chart(sample_id):
    at = open_data_page(sample_id)
    assert len(at.image) == 5 * 4
    assert len(at.get("plotly_chart")) == 1


def test_current_dataset_file_restores_dataset(sample_id):
    # A new session without the URL parameter reads current_dataset.json.
    root = Path(os.environ["TL_DATA_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    (root / "current_dataset.json").write_text(json.dumps({"dataset_id": sample_id}))
    at = open_data_page()
    assert at.dataframe[0].value["total"].sum() == 500


def test_sample_button_loads_sample():
    at = open_data_page()
    assert len(at.dataframe) == 0
    at.button(key="data.sample").click().run()
    assert not at.exception
    assert at.dataframe[0].value["total"].sum() == 500
    assert at.query_params["dataset"].startswith("fashion_mnist_5-")


def test_data_page_chinese(sample_id):
    at = open_data_page(sample_id, lang="zh")
    assert at.title[0].value == "数据"
    assert "类别" in at.dataframe[0].value.columns


def test_upload_zip(tmp_path):
    folder = write_colour_dataset(tmp_path / "colours")
    at = open_data_page()
    at.file_uploader(key="data.upload").set_value(("colours.zip", zip_bytes(folder), "application/zip"))
    at.run()
    assert not at.exception
    assert len(at.error) == 0
    table = at.dataframe[0].value
    assert list(table["class"]) == ["blue", "green", "red"]
    assert table["total"].sum() == 30
    assert at.query_params["dataset"].startswith("colours-")


def test_upload_updates_sidebar(tmp_path, sample_id):
    folder = write_colour_dataset(tmp_path / "colours")
    at = open_data_page(sample_id)
    at.file_uploader(key="data.upload").set_value(("colours.zip", zip_bytes(folder), "application/zip"))
    at.run()
    sidebar_text = " ".join(markdown.value for markdown in at.sidebar.markdown)
    assert "colours.zip" in sidebar_text
    assert "fashion_mnist_5.zip" not in sidebar_text


def test_upload_leaves_no_temporary_zip(tmp_path):
    folder = write_colour_dataset(tmp_path / "colours")
    at = open_data_page()
    at.file_uploader(key="data.upload").set_value(("colours.zip", zip_bytes(folder), "application/zip"))
    at.run()
    uploads = Path(os.environ["TL_DATA_DIR"]) / "uploads"
    assert list(uploads.rglob("*.zip")) == []


def test_broken_zip_shows_error(tmp_path):
    folder = write_colour_dataset(tmp_path / "colours")
    broken = zip_bytes(folder)[:-300]  # cuts off the central directory
    at = open_data_page()
    at.file_uploader(key="data.upload").set_value(("broken_upload.zip", broken, "application/zip"))
    at.run()
    assert len(at.exception) == 0
    assert len(at.error) == 1
    assert "broken_upload.zip" in at.error[0].value
    assert "Traceback" not in at.error[0].value


def test_broken_zip_error_survives_rerun(tmp_path):
    at = open_data_page()
    at.file_uploader(key="data.upload").set_value(("not_a_zip.zip", b"plain text", "application/zip"))
    at.run()
    at.run()
    assert len(at.error) == 1
    assert "not_a_zip.zip" in at.error[0].value


def test_single_class_zip_shows_error(tmp_path):
    folder = write_colour_dataset(tmp_path / "colours")
    for name in ("green", "blue"):
        for path in (folder / name).iterdir():
            path.unlink()
        (folder / name).rmdir()
    at = open_data_page()
    at.file_uploader(key="data.upload").set_value(("one_class.zip", zip_bytes(folder), "application/zip"))
    at.run()
    assert len(at.exception) == 0
    assert "one_class.zip" in at.error[0].value
