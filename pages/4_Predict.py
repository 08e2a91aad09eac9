"""Predict page: classify uploaded or test images with a trained run, and
show the Grad-CAM heat map of each prediction.

TensorFlow is imported only when an image is to be classified (through
`tl_core.predict.load_run_model` and `tl_core.explain`), never to draw the page.
"""

import logging
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from tl_core import jobs, runs
from tl_core.errors import ImageDecodeError, TLError
from tl_core.images import IMAGE_EXTENSIONS, decode_image
from tl_core.predict import decode_upload, has_model
from ui.choices import single_choice
from ui.i18n import current_language, has_key, t
from ui.run_files import dataset_root, display_copy, load_thumbnail, read_test_predictions
from ui.run_labels import no_runs_notice, run_label
from ui.sidebar import page_setup

log = logging.getLogger(__name__)

USABLE_STATUSES = (runs.STATUS_FINISHED, runs.STATUS_STOPPED)
MAX_IMAGES = 8  # images analysed per rerun; each costs a forward and a backward pass
TEST_THUMBNAILS = 12
THUMBNAILS_PER_ROW = 6
THUMBNAIL_PIXELS = 120
DISPLAY_PIXELS = 320
UPLOAD_TYPES = sorted(extension.lstrip(".") for extension in IMAGE_EXTENSIONS)
PICKED_KEY = "predict.picked"


def main() -> None:
    page_setup("predict.title")
    st.title(t("predict.title"))

    candidates = [
        info for info in jobs.list_runs()
        if info.status in USABLE_STATUSES and has_model(info.folder)
        # A run stopped before its first epoch ended holds an untrained head.
        and (info.summary or {}).get("epochs_completed", 0) > 0
    ]
    if not candidates:
        no_runs_notice("predict.no_runs")
        return

    info = pick_run(candidates)
    classes = runs.read_json(info.folder / "labels.json") or []
    top_k = st.slider(t("predict.top_k"), min_value=1, max_value=max(len(classes), 2),
                      value=min(5, max(len(classes), 1)), key="predict.top_k")

    images = choose_images(info)
    if not images:
        st.caption(t("predict.choose_prompt"))
        return
    if len(images) > MAX_IMAGES:
        st.warning(t("predict.too_many", shown=MAX_IMAGES, total=len(images)))
        images = images[:MAX_IMAGES]
    for index, (name, image, true_label) in enumerate(images):
        st.divider()
        show_prediction(info, index, name, image, true_label, top_k)


# Run choice ----------------------------------------------------------------


def run_label_with_accuracy(info: jobs.RunInfo) -> str:
    """Return the run's label followed by its test accuracy, when it has one."""
    accuracy = (info.summary or {}).get("test_accuracy")
    score = t("predict.run_accuracy", accuracy=accuracy) if accuracy is not None else ""
    return f"{run_label(info)}{score}"


def pick_run(candidates: list[jobs.RunInfo]) -> jobs.RunInfo:
    """Draw the run picker; the default is the run with the best test accuracy."""
    def accuracy(info: jobs.RunInfo) -> float:
        value = (info.summary or {}).get("test_accuracy")
        return -1.0 if value is None else value

    best = max(range(len(candidates)), key=lambda index: accuracy(candidates[index]))
    by_id = {info.run_id: info for info in candidates}
    labels = {info.run_id: run_label_with_accuracy(info) for info in candidates}
    run_id = single_choice(
        st.selectbox, t("predict.pick_run"), list(by_id), candidates[best].run_id, key="predict.run",
        format_func=labels.get,
    )
    return by_id[run_id]


# Image choice --------------------------------------------------------------


def choose_images(info: jobs.RunInfo) -> list[tuple[str, Image.Image, str | None]]:
    """Return (name, decoded RGB image, true class or None) from uploads or the test split."""
    labels = {option: t(f"predict.source.{option}") for option in ("upload", "test")}
    source = single_choice(
        st.radio, t("predict.source"), list(labels), "upload", key="predict.source",
        format_func=labels.get, horizontal=True,
    )
    if source == "upload":
        return uploaded_images()
    return picked_test_image(info)


def uploaded_images() -> list[tuple[str, Image.Image, None]]:
    uploads = st.file_uploader(
        t("predict.upload"), type=UPLOAD_TYPES, accept_multiple_files=True,
        key="predict.uploads", help=t("predict.upload_help"),
    ) or []
    images = []
    for upload in uploads:
        try:
            images.append((upload.name, decode_upload(upload.name, upload.getvalue()), None))
        except ImageDecodeError as error:
            st.error(t("predict.bad_image", name=upload.name, reason=decode_reason(error)))
    return images


def decode_reason(error: ImageDecodeError) -> str:
    """Return why an image cannot be decoded, in the session's language.

    English keeps tl_core's detailed reason. Chinese uses the short label of
    the error code that the Data page shows for skipped files, when one exists.
    """
    code = getattr(error, "code", None)
    reason = getattr(error, "reason", None) or str(error)
    if current_language() == "zh" and code and has_key(f"skip.{code}"):
        return t(f"skip.{code}")
    return reason


def picked_test_image(info: jobs.RunInfo) -> list[tuple[str, Image.Image, str]]:
    """Show thumbnails of the run's test images; return the one picked, decoded."""
    rows = read_test_predictions(info.folder) or []
    root = dataset_root(info.folder)
    if not rows:
        st.caption(t("predict.no_test_images"))
        return []
    if root is None or not root.is_dir():
        st.warning(t("predict.dataset_missing", root=str(root or "?")))
        return []

    # Misclassified images come first, because they are the interesting ones to explain.
    rows = sorted(rows, key=lambda row: row["true_label"] == row["predicted_label"])
    st.caption(t("predict.test_hint", count=min(TEST_THUMBNAILS, len(rows)), total=len(rows)))
    picked = st.session_state.get(PICKED_KEY, {}).get(info.run_id)
    shown = rows[:TEST_THUMBNAILS]
    for start in range(0, len(shown), THUMBNAILS_PER_ROW):
        columns = st.columns(THUMBNAILS_PER_ROW)
        for column, row in zip(columns, shown[start : start + THUMBNAILS_PER_ROW]):
            with column:
                thumbnail_with_button(info.run_id, root, row, selected=row["path"] == picked)

    picked = st.session_state.get(PICKED_KEY, {}).get(info.run_id)
    true_labels = {row["path"]: row["true_label"] for row in rows}
    if picked not in true_labels:
        return []
    try:
        return [(picked, decode_image(root / picked), true_labels[picked])]
    except ImageDecodeError as error:
        st.error(t("predict.bad_image", name=picked, reason=decode_reason(error)))
        return []


def thumbnail_with_button(run_id: str, root: Path, row: dict, selected: bool) -> None:
    thumbnail = load_thumbnail(root / row["path"], THUMBNAIL_PIXELS)
    if thumbnail is None:
        st.caption(t("predict.thumbnail_missing", path=row["path"]))
        return
    st.image(thumbnail, caption=row["true_label"], width="stretch")
    st.button(
        t("predict.picked") if selected else t("predict.pick"),
        key=f"predict.pick.{run_id}.{row['path']}",
        type="primary" if selected else "secondary",
        on_click=_remember_pick, args=(run_id, row["path"]),
        width="stretch",
    )


def _remember_pick(run_id: str, path: str) -> None:
    st.session_state.setdefault(PICKED_KEY, {})[run_id] = path


# Prediction ----------------------------------------------------------------


@st.cache_resource(max_entries=2, show_spinner=False)
def load_model(folder: str, modified_ns: int):
    """Load a run's model once per model file version (imports TensorFlow)."""
    from tl_core.predict import load_run_model

    return load_run_model(Path(folder))


@st.cache_data(max_entries=64, show_spinner=False)
def analyse(folder: str, modified_ns: int, image: np.ndarray, top_k: int) -> dict:
    """Return the top-k predictions and the Grad-CAM heat map of one image.

    `image` is RGB uint8 at any size; it is resized to the model's input here.
    """
    from tl_core import explain
    from tl_core.predict import predict_images, to_model_input

    loaded = load_model(folder, modified_ns)
    pixels = to_model_input(image, loaded.image_size)
    top = predict_images(loaded, [pixels], top_k=top_k)[0]
    heat = explain.grad_cam(loaded.model, pixels, loaded.labels.index(top[0][0]))
    layer, rows, columns = explain.describe_cam_layer(loaded.model)
    return {"top": top, "heat": heat, "layer": layer, "grid": (rows, columns),
            "image_size": loaded.image_size}


def show_prediction(info: jobs.RunInfo, index: int, name: str, image: Image.Image,
                    true_label: str | None, top_k: int) -> None:
    model_file = info.folder / "model.keras"
    try:
        with st.spinner(t("predict.working", name=name)):
            result = analyse(str(info.folder), model_file.stat().st_mtime_ns,
                             np.asarray(image.convert("RGB")), top_k)
    except (TLError, OSError) as error:
        st.error(t("predict.failed", name=name, error=str(error)))
        return

    from tl_core.explain import overlay

    label, probability = result["top"][0]
    headline = t("predict.headline", name=name, label=label, probability=probability)
    if true_label is not None:
        verdict = "predict.correct" if true_label == label else "predict.wrong"
        headline += " · " + t(verdict, true=true_label)
    st.markdown(headline)
    original, heat_column, chart_column = st.columns([1, 1, 1.4])
    shown = display_copy(image, DISPLAY_PIXELS)
    with original:
        st.image(shown, caption=t("predict.original"), width="stretch")
    with heat_column:
        st.image(overlay(shown, result["heat"]), caption=t("predict.heatmap", label=label),
                 width="stretch")
    with chart_column:
        st.plotly_chart(probability_figure(result["top"]), key=f"predict.top.{index}")
    rows, columns = result["grid"]
    st.caption(t("predict.heatmap_hint", layer=result["layer"], rows=rows, columns=columns,
                 size=result["image_size"]))


def probability_figure(top: list[tuple[str, float]]) -> go.Figure:
    """Draw the top-k classes as horizontal bars, the most likely at the top."""
    labels = [label for label, _ in top]
    values = [probability for _, probability in top]
    figure = go.Figure(
        go.Bar(
            x=values, y=labels, orientation="h", text=[f"{value:.1%}" for value in values],
            textposition="auto", marker_color=["#E4572E"] + ["#4C78A8"] * (len(values) - 1),
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    figure.update_layout(
        title=t("predict.top_title", k=len(top)),
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": t("predict.probability")},
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(220, 70 + 34 * len(top)),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


main()
