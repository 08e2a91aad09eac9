"""Train page: pick backbones, start a race (one job each) and watch it live.

The page never trains. It submits jobs to tl_core.jobs and draws what the run
folders contain, so a refresh, a second tab or a restarted server show the
same race.
"""

import logging
import uuid
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from tl_core import jobs, runs
from tl_core.backbones import BACKBONES, OFFLINE, Backbone, weights_available
from tl_core.datasets import Dataset
from tl_core.errors import TLError
from tl_core.model import DEFAULT_LEARNING_RATES, MODES, OPTIMIZERS
from tl_core.training import TrainConfig
from ui import state
from ui.charts import backbone_colour, curves_figure
from ui.choices import single_choice
from ui.estimates import estimated_forward_speed, estimated_run_seconds
from ui.i18n import t
from ui.sidebar import page_setup
from ui.state import ACTIVE_STATUSES

log = logging.getLogger(__name__)

IMAGE_SIZES = (32, 64, 96, 128, 160, 224)
BATCH_SIZES = (8, 16, 32, 64, 128)
LIVE_REFRESH_SECONDS = 1
STATUS_COLOURS = {
    "queued": "gray", "running": "blue", "finished": "green",
    "stopped": "orange", "failed": "red", "interrupted": "red",
}



def main() -> None:
    page_setup("nav.2_Train")
    st.title(t("train.title"))
    st.markdown(t("train.intro"))

    race_view(jobs.list_runs())
    new_race()


def new_race() -> None:
    st.header(t("train.new_race_title"))
    dataset = state.current_dataset()
    if dataset is None:
        st.info(t("train.no_dataset"))
        st.page_link("pages/1_Data.py", label=t("train.go_to_data"), icon=":material/photo_library:",
                     query_params=state.link_query_params())
        return
    race_setup(dataset)


# Race setup -------------------------------------------------------------------


def race_setup(dataset: Dataset) -> None:
    """Backbone table, backbone choice, shared settings, per-backbone mode, start button."""
    with st.container(border=True):
        st.subheader(t("train.backbones_title"))
        table_slot = st.empty()
        chosen = backbone_choice()
        shared = shared_settings()
        table_slot.dataframe(backbone_table(shared["image_size"]), hide_index=True)
        if not chosen:
            st.info(t("train.pick_one"))
            return
        configs = backbone_modes(chosen, shared, dataset)
        start_button(configs, dataset, valid=shared["learning_rate_valid"])


def backbone_table(image_size: int) -> pd.DataFrame:
    rows = []
    for spec in BACKBONES.values():
        rows.append(
            {
                t("train.column.backbone"): spec.display_name,
                t("train.column.params"): f"{spec.params / 1e6:.1f} M",
                t("train.column.weights"): weights_status(spec),
                t("train.column.speed", size=image_size):
                    f"≈ {estimated_forward_speed(spec, image_size):,.0f}",
            }
        )
    return pd.DataFrame(rows)


def weights_status(spec: Backbone) -> str:
    if weights_available(spec.name):
        return t("train.weights.ready")
    if spec.weight_source == OFFLINE:
        return t("train.weights.not_prepared")
    return t("train.weights.needs_internet")


def backbone_choice() -> list[str]:
    ready = [name for name in BACKBONES if weights_available(name)]
    return st.multiselect(
        t("train.pick_backbones"), list(BACKBONES), default=ready[:2],
        format_func=lambda name: BACKBONES[name].display_name, key="train.backbones",
    )


def shared_settings() -> dict:
    """Draw the settings every run of the race shares and return their values."""
    st.subheader(t("train.shared_title"))
    columns = st.columns(4)
    image_size = columns[0].selectbox(t("train.image_size"), IMAGE_SIZES, index=2,
                                      key="train.image_size", help=t("train.image_size_help"))
    epochs = columns[1].number_input(t("train.epochs"), min_value=1, max_value=500, value=5,
                                     key="train.epochs")
    batch_size = columns[2].selectbox(t("train.batch_size"), BATCH_SIZES, index=2,
                                      key="train.batch_size")
    learning_rate_text = columns[3].text_input(
        t("train.learning_rate"), key="train.learning_rate",
        placeholder=t("train.learning_rate_placeholder"), help=t("train.learning_rate_help"),
    )
    learning_rate, valid = _parse_learning_rate(learning_rate_text)
    if not valid:
        st.error(t("train.learning_rate_invalid", value=learning_rate_text))
    augmentation = st.checkbox(t("train.augmentation"), key="train.augmentation",
                               help=t("train.augmentation_help"))

    with st.expander(t("train.advanced")):
        advanced = st.columns(4)
        optimizer = advanced[0].selectbox(t("train.optimizer"), OPTIMIZERS, key="train.optimizer")
        seed = advanced[1].number_input(t("train.seed"), min_value=0, value=0, key="train.seed")
        patience = advanced[2].number_input(t("train.patience"), min_value=0, max_value=100, value=0,
                                            key="train.patience", help=t("train.patience_help"))
        dropout = advanced[3].slider(t("train.dropout"), 0.0, 0.8, 0.2, 0.05, key="train.dropout")

    return {
        "image_size": int(image_size), "epochs": int(epochs), "batch_size": int(batch_size),
        "learning_rate": learning_rate, "learning_rate_valid": valid,
        "augmentation": bool(augmentation), "optimizer": optimizer, "seed": int(seed),
        "early_stopping_patience": int(patience), "dropout": float(dropout),
    }


def _parse_learning_rate(text: str) -> tuple[float | None, bool]:
    """Return (None, True) for blank text (the mode's default) and (None, False) if invalid."""
    text = text.strip().replace(",", ".")
    if not text:
        return None, True
    try:
        value = float(text)
    except ValueError:
        return None, False
    return (value, True) if value > 0 else (None, False)


def backbone_modes(chosen: list[str], shared: dict, dataset: Dataset) -> list[TrainConfig]:
    """Draw one card per chosen backbone (mode, K, notes) and return the run configs."""
    st.subheader(t("train.modes_title"))
    configs = []
    columns = st.columns(min(len(chosen), 3))
    for index, name in enumerate(chosen):
        with columns[index % len(columns)].container(border=True):
            configs.append(backbone_card(BACKBONES[name], shared, dataset))
    return configs


def backbone_card(spec: Backbone, shared: dict, dataset: Dataset) -> TrainConfig:
    st.markdown(f"**{spec.display_name}**")
    available = weights_available(spec.name)
    mode = single_choice(
        st.selectbox, t("train.mode"), MODES, "frozen" if available else "scratch",
        key=f"train.mode.{spec.name}", format_func=lambda value: t(f"mode.{value}"),
    )
    st.caption(t(f"mode.{mode}.help"))
    blocks = 2
    if mode == "finetune":
        blocks = st.number_input(t("train.finetune_blocks"), min_value=1, max_value=30, value=2,
                                 key=f"train.blocks.{spec.name}", help=t("train.finetune_blocks_help"))
    if not available and mode != "scratch":
        note = "train.weights_missing_offline" if spec.weight_source == OFFLINE else "train.weights_missing_download"
        st.warning(t(note, name=spec.display_name), icon=":material/cloud_off:")

    config = TrainConfig(backbone=spec.name, mode=mode, finetune_blocks=int(blocks), **{
        key: shared[key] for key in (
            "image_size", "epochs", "batch_size", "learning_rate", "augmentation",
            "optimizer", "seed", "early_stopping_patience", "dropout",
        )
    })
    if config.uses_feature_cache():
        st.caption(t("train.cache_on"))
    elif mode == "frozen":
        st.caption(t("train.cache_off_augmentation"))
    learning_rate = config.learning_rate or DEFAULT_LEARNING_RATES[mode]
    seconds = estimated_run_seconds(spec, config, dataset)
    st.caption(t("train.estimate", duration=state.format_duration(seconds), lr=f"{learning_rate:g}"))
    return config


def start_button(configs: list[TrainConfig], dataset: Dataset, valid: bool) -> None:
    """Submit one job per config under a new race id and watch that race."""
    clicked = st.button(t("train.start"), type="primary", icon=":material/flag:", key="train.start",
                        disabled=not valid)
    if not clicked:
        return
    try:
        for config in configs:
            config.validate()
    except TLError as error:
        st.error(str(error))
        return

    race = f"race-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    try:
        for config in configs:
            jobs.submit(config, state.dataset_file(dataset.dataset_id), race=race)
    except TLError as error:
        st.error(str(error))
        return
    except OSError:
        log.exception("Submitting race %s failed", race)
        st.error(t("train.submit_failed"))
        return
    state.set_watched_race(race)
    st.toast(t("train.started", count=len(configs)), icon=":material/flag:")
    st.rerun()  # redraw the sidebar and the page with the new race on top


# Race view --------------------------------------------------------------------


def race_view(all_runs: list[jobs.RunInfo]) -> None:
    """Pick a race (the watched one, else the newest) and draw it live."""
    races = list(dict.fromkeys(info.job["race"] for info in all_runs if info.job.get("race")))
    if not races:
        return
    watched = state.watched_race()
    if watched not in races:
        watched = races[0]

    title_column, pick_column = st.columns([3, 2], vertical_alignment="bottom")
    title_column.header(t("train.race_title"))
    labels = {race: _race_label(race, all_runs) for race in races}
    picked = pick_column.selectbox(t("train.race_pick"), races, index=races.index(watched),
                                   format_func=labels.get)
    state.set_watched_race(picked)

    active = any(info.status in ACTIVE_STATUSES
                 for info in all_runs if info.job.get("race") == picked)
    run_every = LIVE_REFRESH_SECONDS if active else None
    st.fragment(run_every=run_every)(live_race)(picked, active)


def _race_label(race: str, all_runs: list[jobs.RunInfo]) -> str:
    names = [_backbone_name(info) for info in all_runs if info.job.get("race") == race]
    try:
        started = datetime.strptime(race.split("-", 1)[1][:15], "%Y%m%d-%H%M%S")
        when = started.strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        when = race
    return f"{when} · {', '.join(reversed(names))}"


def _backbone_name(info: jobs.RunInfo) -> str:
    spec = BACKBONES.get(info.config.get("backbone"))
    return spec.display_name if spec else str(info.config.get("backbone"))


def _run_label(info: jobs.RunInfo) -> str:
    return f"{_backbone_name(info)} · {t('mode.' + str(info.config.get('mode')))}"


def live_race(race: str, polling: bool) -> None:
    """Draw the runs of `race` from their folders, every second while any run is active."""
    race_runs = sorted(
        (info for info in jobs.list_runs() if info.job.get("race") == race),
        key=lambda info: info.run_id,
    )
    progresses = {info.run_id: state.refresh_run_progress(info.run_id, Path(info.folder))
                  for info in race_runs}
    if race_runs:
        st.caption(_race_settings(race_runs[0].config))
    statuses = {info.run_id: info.status for info in race_runs}
    for info in race_runs:
        run_row(info, statuses[info.run_id], progresses[info.run_id])
    race_curves(race_runs, progresses)

    if polling and not any(status in ACTIVE_STATUSES for status in statuses.values()):
        st.rerun()  # a full rerun draws the fragment again without the timer


def _race_settings(config: dict) -> str:
    learning_rate = config.get("learning_rate")
    return t(
        "train.race_settings", size=config.get("image_size"), epochs=config.get("epochs"),
        batch=config.get("batch_size"),
        lr=t("train.lr_default") if learning_rate is None else f"{learning_rate:g}",
        augmentation=t("train.on") if config.get("augmentation") else t("train.off"),
    )


def run_row(info: jobs.RunInfo, status: str, progress: state.RunProgress) -> None:
    """Draw one line per run: name and status, progress or result, and a Stop button."""
    with st.container(border=True):
        name_column, progress_column, button_column = st.columns([3, 7, 1.2],
                                                                 vertical_alignment="center")
        colour = STATUS_COLOURS.get(status, "gray")
        badges = f":{colour}-badge[{t('status.' + status)}]"
        if _uses_feature_cache(info.config):
            badges += f" :blue-badge[:material/bolt: {t('train.cache_badge')}]"
        name_column.markdown(f"**{_run_label(info)}**  \n{badges}")
        with progress_column:
            run_progress(info, status, progress)
        if status in ACTIVE_STATUSES:
            stopping = runs.stop_requested(Path(info.folder))
            if button_column.button(t("train.stop"), key=f"train.stop.{info.run_id}",
                                    icon=":material/stop_circle:", disabled=stopping):
                jobs.stop(info.run_id)
                st.toast(t("train.stop_requested", name=_run_label(info)))


def _uses_feature_cache(config: dict) -> bool:
    try:
        return TrainConfig.from_dict(config).uses_feature_cache()
    except (TypeError, ValueError):
        return False


def run_progress(info: jobs.RunInfo, status: str, progress: state.RunProgress) -> None:
    summary = info.summary or {}
    if status in ACTIVE_STATUSES:
        fraction, text = state.describe_progress(status, progress,
                                                 int(info.config.get("batch_size", 32)))
        if runs.stop_requested(Path(info.folder)):
            text = f"{t('train.stopping')} · {text}"
        st.progress(fraction, text=text)
    elif status == runs.STATUS_FINISHED:
        st.progress(1.0, text=_result_text(summary))
    elif status == runs.STATUS_STOPPED:
        st.progress(progress.training_fraction(),
                    text=t("train.stopped_text", epochs=summary.get("epochs_completed", 0))
                    + _accuracy_suffix(summary))
    elif status == runs.STATUS_FAILED:
        st.error(t("train.failed_text", error=summary.get("error") or "?"))
    else:
        st.warning(t("train.interrupted_text"))


def _result_text(summary: dict) -> str:
    seconds = summary.get("train_seconds")
    duration = state.format_duration(seconds) if seconds is not None else "?"
    return t("train.finished_text", epochs=summary.get("epochs_completed", "?"),
             duration=duration) + _accuracy_suffix(summary)


def _accuracy_suffix(summary: dict) -> str:
    parts = []
    if summary.get("best_val_accuracy") is not None:
        parts.append(t("train.best_val", value=summary["best_val_accuracy"]))
    if summary.get("test_accuracy") is not None:
        parts.append(t("train.test_accuracy", value=summary["test_accuracy"]))
    return "".join(f" · {part}" for part in parts)


def race_curves(race_runs: list[jobs.RunInfo], progresses: dict[str, state.RunProgress]) -> None:
    """Overlay loss and accuracy of all runs: train solid (with batches), validation dashed."""
    series, colours = {}, {}
    for info in race_runs:
        rows = progresses[info.run_id].curve_rows()
        if rows:
            label = _run_label(info)
            series[label] = rows
            colours[label] = backbone_colour(str(info.config.get("backbone")))
    if not series:
        st.caption(t("train.curves_waiting"))
        return
    loss_column, accuracy_column = st.columns(2)
    loss_column.plotly_chart(curves_figure(series, "loss", t("train.loss_chart"), colours),
                             key="train.loss_chart")
    accuracy_column.plotly_chart(curves_figure(series, "accuracy", t("train.accuracy_chart"), colours),
                                 key="train.accuracy_chart")


main()
