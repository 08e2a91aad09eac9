"""Compare page: curves, a metrics table, confusion matrices and the test
images each chosen run got wrong.

Everything is read from run folders (summary.json, metrics.csv,
confusion_matrix.json, test_predictions.csv); nothing here imports TensorFlow.
"""

import logging

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from tl_core import jobs, runs
from tl_core.backbones import BACKBONES
from ui import state
from ui.charts import curves_figure
from ui.choices import multiple_choice
from ui.i18n import t
from ui.run_files import dataset_root, load_thumbnail, read_test_predictions
from ui.run_labels import mode_name, no_runs_notice, run_label, started_at
from ui.sidebar import page_setup

log = logging.getLogger(__name__)

COMPLETE_STATUSES = (runs.STATUS_FINISHED, runs.STATUS_STOPPED, runs.STATUS_FAILED)
DEFAULT_RUN_COUNT = 3
MATRICES_PER_ROW = 2
THUMBNAILS_PER_ROW = 6
MAX_MISCLASSIFIED_SHOWN = 24
THUMBNAIL_PIXELS = 160


def main() -> None:
    page_setup("compare.title")
    st.title(t("compare.title"))

    completed = [info for info in jobs.list_runs() if info.status in COMPLETE_STATUSES]
    if not completed:
        no_runs_notice("compare.no_runs")
        return

    chosen = pick_runs(completed)
    if not chosen:
        st.info(t("compare.pick_prompt"))
        return

    show_failures(chosen)
    trained = [info for info in chosen if info.status != runs.STATUS_FAILED]
    curves_section(trained)
    table_section(chosen)
    # A run stopped before its first epoch ended was never scored on the test split.
    tested = [info for info in trained if was_tested(info)]
    for info in trained:
        if info not in tested:
            st.caption(t("compare.no_confusion", run=run_label(info)))
    confusion_section(tested)
    misclassified_section(tested)


def was_tested(info: jobs.RunInfo) -> bool:
    return (info.summary or {}).get("test_accuracy") is not None


# Run choice ----------------------------------------------------------------


def default_runs(completed: list[jobs.RunInfo]) -> list[str]:
    """Return the run ids of the watched race, else the newest race, else the newest runs."""
    races = [state.watched_race()] + [info.job.get("race") for info in completed]
    for race in races:
        members = [info.run_id for info in completed if race and info.job.get("race") == race]
        if members:
            return members
    return [info.run_id for info in completed[:DEFAULT_RUN_COUNT]]


def pick_runs(completed: list[jobs.RunInfo]) -> list[jobs.RunInfo]:
    by_id = {info.run_id: info for info in completed}
    labels = {info.run_id: f"{run_label(info)}{status_suffix(info.status)}" for info in completed}
    chosen = multiple_choice(
        t("compare.pick_runs"), list(by_id), default_runs(completed), key="compare.runs",
        format_func=labels.get,
    )
    return [by_id[run_id] for run_id in chosen]


def status_suffix(status: str) -> str:
    return "" if status == runs.STATUS_FINISHED else f" ({t(f'status.{status}')})"


def show_failures(chosen: list[jobs.RunInfo]) -> None:
    for info in chosen:
        if info.status == runs.STATUS_FAILED:
            error = (info.summary or {}).get("error") or t("compare.no_error_text")
            st.error(t("compare.run_failed", run=run_label(info), error=error))


# Curves --------------------------------------------------------------------


def curves_section(trained: list[jobs.RunInfo]) -> None:
    st.subheader(t("compare.curves"))
    series = {run_label(info): runs.read_metrics(info.folder) for info in trained}
    series = {label: rows for label, rows in series.items() if rows}
    if not series:
        st.caption(t("compare.no_epochs"))
        return
    loss_column, accuracy_column = st.columns(2)
    with loss_column:
        st.plotly_chart(curves_figure(series, "loss", t("compare.loss_title")),
                        key="compare.curves.loss")
    with accuracy_column:
        st.plotly_chart(curves_figure(series, "accuracy", t("compare.accuracy_title")),
                        key="compare.curves.accuracy")


# Table ---------------------------------------------------------------------


# Accuracy first: the columns to the right may need horizontal scrolling.
TABLE_COLUMNS = (
    "run", "backbone", "mode", "test_accuracy", "best_val_accuracy", "epochs",
    "train_seconds", "images_per_second", "feature_seconds", "trainable_params", "total_params", "image_size",
    "model_size_mb", "feature_cache", "status",
)


def table_section(chosen: list[jobs.RunInfo]) -> None:
    st.subheader(t("compare.table"))
    frame = pd.DataFrame([table_row(info) for info in chosen], columns=TABLE_COLUMNS)
    # Numeric dtypes show a missing value as an empty cell (object columns print "None").
    for name in NUMERIC_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    for name in ("best_val_accuracy", "test_accuracy"):
        frame[name] = frame[name] * 100
    column = st.column_config
    st.dataframe(
        frame,
        hide_index=True,
        key="compare.table",
        column_config={
            "run": column.TextColumn(t("compare.col.run"), pinned=True),
            "status": column.TextColumn(t("compare.col.status")),
            "backbone": column.TextColumn(t("compare.col.backbone")),
            "mode": column.TextColumn(t("compare.col.mode")),
            "trainable_params": column.NumberColumn(t("compare.col.trainable_params"), format="localized"),
            "total_params": column.NumberColumn(t("compare.col.total_params"), format="localized"),
            "image_size": column.NumberColumn(t("compare.col.image_size"), format="%d px"),
            "epochs": column.NumberColumn(t("compare.col.epochs"), format="%d"),
            "best_val_accuracy": column.NumberColumn(t("compare.col.best_val_accuracy"), format="%.1f%%"),
            "test_accuracy": column.NumberColumn(t("compare.col.test_accuracy"), format="%.1f%%"),
            "train_seconds": column.NumberColumn(t("compare.col.train_seconds"), format="%.1f s"),
            "images_per_second": column.NumberColumn(t("compare.col.images_per_second"), format="%.1f",
                                                     help=t("compare.col.images_per_second_help")),
            "feature_seconds": column.NumberColumn(t("compare.col.feature_seconds"), format="%.1f s",
                                                   help=t("compare.col.feature_seconds_help")),
            "model_size_mb": column.NumberColumn(t("compare.col.model_size_mb"), format="%.2f MB"),
            "feature_cache": column.CheckboxColumn(t("compare.col.feature_cache")),
        },
    )
    st.caption(t("compare.table_hint"))


NUMERIC_COLUMNS = (
    "trainable_params", "total_params", "image_size", "epochs", "best_val_accuracy",
    "test_accuracy", "train_seconds", "images_per_second", "feature_seconds", "model_size_mb",
)


def table_row(info: jobs.RunInfo) -> dict:
    """Return one table row; values missing from summary.json stay empty."""
    summary = info.summary or {}
    config = info.config
    size_bytes = summary.get("model_size_bytes")
    mode = summary.get("mode") or config.get("mode")
    spec = BACKBONES.get(summary.get("backbone") or config.get("backbone"))
    return {
        "run": f"{started_at(info.run_id)} · {info.run_id[-4:]}",
        "status": t(f"status.{info.status}"),
        "backbone": spec.display_name if spec else summary.get("backbone"),
        "mode": mode_name(mode),
        "trainable_params": summary.get("trainable_params"),
        "total_params": summary.get("total_params"),
        "image_size": summary.get("image_size") or config.get("image_size"),
        "epochs": summary.get("epochs_completed"),
        "best_val_accuracy": summary.get("best_val_accuracy"),
        "test_accuracy": summary.get("test_accuracy"),
        "train_seconds": summary.get("train_seconds"),
        "images_per_second": summary.get("images_per_second"),
        "feature_seconds": summary.get("feature_seconds"),
        "model_size_mb": size_bytes / 1_000_000 if size_bytes else None,
        "feature_cache": summary.get("feature_cache"),
    }


# Confusion matrices --------------------------------------------------------


def confusion_section(trained: list[jobs.RunInfo]) -> None:
    st.subheader(t("compare.confusion"))
    st.caption(t("compare.confusion_hint"))
    matrices = [(info, runs.read_json(info.folder / "confusion_matrix.json")) for info in trained]
    missing = [info for info, matrix in matrices if not matrix]
    for info in missing:
        st.caption(t("compare.no_confusion", run=run_label(info)))
    present = [(info, matrix) for info, matrix in matrices if matrix]
    for start in range(0, len(present), MATRICES_PER_ROW):
        row = present[start : start + MATRICES_PER_ROW]
        for column, (info, matrix) in zip(st.columns(MATRICES_PER_ROW), row):
            with column:
                st.plotly_chart(confusion_figure(matrix, run_label(info)),
                                key=f"compare.confusion.{info.run_id}")


def confusion_figure(matrix: dict, title: str) -> go.Figure:
    """Draw counts as text over colours scaled per true class (row share)."""
    classes = matrix["classes"]
    counts = np.asarray(matrix["matrix"], dtype=float)
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_totals, out=np.zeros_like(counts), where=row_totals > 0)
    figure = go.Figure(
        go.Heatmap(
            z=shares, x=classes, y=classes, text=counts.astype(int), texttemplate="%{text}",
            colorscale="Blues", zmin=0, zmax=1, showscale=False,
            hovertemplate=t("compare.confusion_hover") + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title=t("compare.predicted"),
        yaxis_title=t("compare.true"),
        yaxis_autorange="reversed",
        height=max(320, 60 + 36 * len(classes)),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    figure.update_xaxes(type="category")
    figure.update_yaxes(type="category")
    return figure


# Misclassified test images -------------------------------------------------


def misclassified_section(trained: list[jobs.RunInfo]) -> None:
    st.subheader(t("compare.misclassified"))
    if not trained:
        return
    tabs = st.tabs([run_label(info) for info in trained])
    for tab, info in zip(tabs, trained):
        with tab:
            misclassified_grid(info)


def misclassified_grid(info: jobs.RunInfo) -> None:
    rows = read_test_predictions(info.folder)
    if rows is None:
        st.caption(t("compare.no_predictions"))
        return
    wrong = [row for row in rows if row["true_label"] != row["predicted_label"]]
    if not wrong:
        st.success(t("compare.none_wrong", total=len(rows)))
        return
    st.caption(t("compare.wrong_count", wrong=len(wrong), total=len(rows)))

    root = dataset_root(info.folder)
    if root is None or not root.is_dir():
        st.warning(t("compare.dataset_missing", root=str(root or "?")))
        return
    shown = sorted(wrong, key=lambda row: -row["confidence"])[:MAX_MISCLASSIFIED_SHOWN]
    if len(wrong) > len(shown):
        st.caption(t("compare.showing_most_confident", shown=len(shown)))
    for start in range(0, len(shown), THUMBNAILS_PER_ROW):
        columns = st.columns(THUMBNAILS_PER_ROW)
        for column, row in zip(columns, shown[start : start + THUMBNAILS_PER_ROW]):
            with column:
                caption = t("compare.thumbnail_caption", true=row["true_label"],
                            predicted=row["predicted_label"], confidence=row["confidence"])
                thumbnail = load_thumbnail(root / row["path"], THUMBNAIL_PIXELS)
                if thumbnail is None:
                    st.caption(t("compare.thumbnail_missing", path=row["path"]))
                    st.caption(caption)
                else:
                    st.image(thumbnail, caption=caption, width="stretch")


main()
