"""Data page: load a zip of class folders or the sample, then inspect what was found."""

import logging
import re
import shutil
import uuid
from pathlib import Path

import pandas as pd
import streamlit as st

from tl_core import settings
from tl_core.datasets import SPLITS, Dataset
from ui import state
from ui.charts import class_balance_figure
from ui.i18n import has_key, t, translate_code
from ui.run_files import load_thumbnail
from ui.sidebar import page_setup

log = logging.getLogger(__name__)

THUMBNAILS_PER_CLASS = 4
THUMBNAIL_PIXELS = 128
DEFAULT_CLASSES_SHOWN = 8
# tar formats are read with the same safety rules as zip; 7z and rar are
# accepted here only so that ingestion can say how to re-pack them.
UPLOAD_TYPES = ["zip", "tar", "tar.gz", "tgz", "tar.bz2", "tar.xz", "7z", "rar"]
UPLOAD_ID_KEY = "data.ingested_upload"
UPLOAD_ERROR_KEY = "data.upload_error"


def main() -> None:
    page_setup("nav.1_Data")
    st.title(t("data.title"))
    st.markdown(t("data.intro"))
    source_choice()

    dataset = state.current_dataset()
    if dataset is None:
        st.info(t("data.none_yet"))
        return
    dataset_overview(dataset)
    dataset_warnings(dataset)
    class_counts(dataset)
    thumbnail_grid(dataset)
    skipped_files(dataset)


# Loading ----------------------------------------------------------------------


def source_choice() -> None:
    upload_column, sample_column = st.columns([3, 2], border=True)
    with upload_column:
        zip_upload()
    with sample_column:
        sample_dataset()


def zip_upload() -> None:
    """Ingest a newly uploaded zip once, and keep its error visible while it stays selected."""
    uploaded = st.file_uploader(
        t("data.upload_label"), type=UPLOAD_TYPES, key="data.upload", help=t("data.upload_help")
    )
    if uploaded is None:
        st.session_state.pop(UPLOAD_ID_KEY, None)
        st.session_state.pop(UPLOAD_ERROR_KEY, None)
        return

    if st.session_state.get(UPLOAD_ID_KEY) != uploaded.file_id:
        st.session_state[UPLOAD_ID_KEY] = uploaded.file_id
        dataset, error = _open_upload(uploaded)
        st.session_state[UPLOAD_ERROR_KEY] = error
        if dataset is not None:
            state.set_current_dataset(dataset)
            st.toast(t("data.loaded", name=uploaded.name), icon=":material/check_circle:")
            st.rerun()  # the sidebar, drawn before the upload, shows the new dataset

    error = st.session_state.get(UPLOAD_ERROR_KEY)
    if error:
        st.error(error, icon=":material/error:")


def _open_upload(uploaded) -> tuple[Dataset | None, str | None]:
    """Save the upload under the data root, open it, and delete the saved copy.

    open_dataset extracts the archive into the dataset's own folder, so the
    saved zip is not needed afterwards.
    """
    folder = settings.data_root() / "uploads" / uuid.uuid4().hex
    try:
        folder.mkdir(parents=True)
        path = folder / _safe_file_name(uploaded.name)
        with open(path, "wb") as handle:
            shutil.copyfileobj(uploaded, handle, length=1024 * 1024)
        return state.open_dataset_with_progress(path, uploaded.name)
    except OSError:
        log.exception("Cannot save the upload %s under %s", uploaded.name, folder)
        return None, t("data.upload_save_failed", name=uploaded.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _safe_file_name(name: str) -> str:
    """Keep the base name of an upload, with path separators and control characters replaced."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[\x00-\x1f]", "_", base).strip() or "upload.zip"
    return "_" + cleaned if cleaned.startswith(".") else cleaned


def sample_dataset() -> None:
    st.markdown(f"**{t('data.sample_title')}**")
    st.caption(t("data.sample_text"))
    available = state.SAMPLE_ZIP.is_file()
    if not st.button(t("data.sample_button"), key="data.sample", disabled=not available,
                     icon=":material/dataset:"):
        return
    dataset, error = state.open_dataset_with_progress(state.SAMPLE_ZIP, state.SAMPLE_ZIP.name)
    if error:
        st.error(error, icon=":material/error:")
        return
    state.set_current_dataset(dataset)
    st.rerun()  # the sidebar, drawn before the click, shows the new dataset


# Inspecting -------------------------------------------------------------------


def dataset_overview(dataset: Dataset) -> None:
    report = dataset.report
    st.header(dataset.source_name or dataset.dataset_id)
    columns = st.columns(4)
    columns[0].metric(t("data.metric_classes"), len(dataset.classes))
    columns[1].metric(t("data.metric_images"), report.total())
    columns[2].metric(t("data.metric_skipped"), len(report.skipped))
    columns[3].metric(t("data.metric_split"), t(f"data.split_source.{report.split_source}"))
    st.caption(t("data.dataset_id", id=dataset.dataset_id))


def dataset_warnings(dataset: Dataset) -> None:
    for notice in dataset.report.warnings:
        st.warning(translate_code(notice.code, notice.message, notice.params),
                   icon=":material/warning:")


def class_counts(dataset: Dataset) -> None:
    """Show images per class and split as a table and as a stacked bar chart."""
    table_column, chart_column = st.columns([2, 3])
    with table_column:
        st.subheader(t("data.classes_title"))
        st.dataframe(class_table(dataset), hide_index=True)
    with chart_column:
        figure = class_balance_figure(dataset.report.counts, t("data.balance_title"))
        st.plotly_chart(figure, key="data.class_balance")


def class_table(dataset: Dataset) -> pd.DataFrame:
    rows = []
    for name in dataset.classes:
        per_split = dataset.report.counts.get(name, {})
        row = {t("data.column.class"): name}
        row.update({t(f"split.{split}"): per_split.get(split, 0) for split in SPLITS})
        row[t("data.column.total")] = sum(per_split.get(split, 0) for split in SPLITS)
        rows.append(row)
    return pd.DataFrame(rows)


def thumbnail_grid(dataset: Dataset) -> None:
    st.subheader(t("data.examples_title"))
    shown = dataset.classes
    if len(dataset.classes) > DEFAULT_CLASSES_SHOWN:
        shown = st.multiselect(
            t("data.examples_pick"), dataset.classes,
            default=dataset.classes[:DEFAULT_CLASSES_SHOWN], key="data.examples_classes",
        )
    examples = _examples_per_class(dataset)
    for name in shown:
        name_column, *image_columns = st.columns([1.5] + [1] * THUMBNAILS_PER_CLASS,
                                                 vertical_alignment="center")
        name_column.markdown(f"**{name}**")
        for column, relative in zip(image_columns, examples.get(name, [])):
            thumbnail = load_thumbnail(dataset.root / relative, THUMBNAIL_PIXELS)
            if thumbnail is None:
                column.caption(t("data.thumbnail_failed"))
            else:
                column.image(thumbnail, width=THUMBNAIL_PIXELS, alt=Path(relative).name)


def _examples_per_class(dataset: Dataset) -> dict[str, list[str]]:
    """Return the first few files of each class, train split first."""
    examples: dict[str, list[str]] = {name: [] for name in dataset.classes}
    for split in SPLITS:
        for relative, label in dataset.items.get(split, []):
            chosen = examples[dataset.classes[label]]
            if len(chosen) < THUMBNAILS_PER_CLASS:
                chosen.append(relative)
    return examples


def skipped_files(dataset: Dataset) -> None:
    skipped = dataset.report.skipped
    if not skipped:
        return
    with st.expander(t("data.skipped_title", count=len(skipped)), expanded=len(skipped) <= 20):
        rows = [
            {
                t("data.column.file"): item.path,
                t("data.column.problem"): t(f"skip.{item.code}") if has_key(f"skip.{item.code}") else item.code,
                t("data.column.details"): item.reason,
            }
            for item in skipped
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)


main()
