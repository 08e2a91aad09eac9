"""Session and URL state shared by the pages, and the progress of watched runs.

Each value lives in `st.session_state` for the session and is mirrored in a
URL query parameter (`lang`, `dataset`, `race`), so a browser refresh, which
starts a new session, restores it. The current dataset is also written to
`<data_root>/current_dataset.json` so that a new tab without the parameter
opens the last dataset.

Run progress is folded from each run's events.jsonl; the session keeps the
read offset per run, so a rerun reads only new events and a new session
rebuilds everything from the files.
"""

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from tl_core import jobs, runs, settings
from tl_core.datasets import DATASET_FILE, Dataset, open_dataset
from tl_core.errors import TLError
from ui.i18n import DEFAULT_LANGUAGE, LANGUAGE_KEY, LANGUAGES, t, translate_code

log = logging.getLogger(__name__)

APP_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ZIP = APP_ROOT / "assets" / "samples" / "fashion_mnist_5.zip"
CURRENT_DATASET_FILE = "current_dataset.json"

DATASET_KEY = "dataset_id"
RACE_KEY = "race"


def init_session() -> None:
    """Resolve language and current dataset once per session, and write them to the URL."""
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = _initial_language()
    if DATASET_KEY not in st.session_state:
        st.session_state[DATASET_KEY] = _initial_dataset_id()
    set_query_param("lang", st.session_state[LANGUAGE_KEY])
    set_query_param("dataset", st.session_state[DATASET_KEY])


def _initial_language() -> str:
    requested = st.query_params.get("lang")
    if requested in LANGUAGES:
        return requested
    locale = st.context.locale or ""
    return "zh" if locale.lower().startswith("zh") else DEFAULT_LANGUAGE


def set_query_param(name: str, value: str | None) -> None:
    """Set or remove one URL query parameter, touching the URL only when it changes."""
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != value:
        st.query_params[name] = value


def set_language(language: str) -> None:
    st.session_state[LANGUAGE_KEY] = language
    set_query_param("lang", language)


def link_query_params() -> dict[str, str]:
    """Return the query parameters that page links carry to the next page."""
    params = {"lang": st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)}
    if st.session_state.get(DATASET_KEY):
        params["dataset"] = st.session_state[DATASET_KEY]
    return params


# Current dataset ------------------------------------------------------------


def datasets_dir() -> Path:
    return settings.data_root() / "datasets"


def dataset_file(dataset_id: str) -> Path:
    """Return the dataset.json path of a stored dataset."""
    return datasets_dir() / dataset_id / DATASET_FILE


def _valid_dataset_id(dataset_id) -> bool:
    # A dataset id is a folder name. An id with a path separator could point elsewhere.
    return (
        isinstance(dataset_id, str)
        and dataset_id not in ("", ".", "..")
        and "/" not in dataset_id
        and "\\" not in dataset_id
        and dataset_file(dataset_id).is_file()
    )


def _initial_dataset_id() -> str | None:
    requested = st.query_params.get("dataset")
    if _valid_dataset_id(requested):
        return requested
    stored = runs.read_json(settings.data_root() / CURRENT_DATASET_FILE, default={}) or {}
    remembered = stored.get("dataset_id")
    return remembered if _valid_dataset_id(remembered) else None


def set_current_dataset(dataset: Dataset) -> None:
    """Make `dataset` the current one for this session, the URL and new sessions."""
    st.session_state[DATASET_KEY] = dataset.dataset_id
    set_query_param("dataset", dataset.dataset_id)
    root = settings.data_root()
    root.mkdir(parents=True, exist_ok=True)
    runs.write_json_atomic(root / CURRENT_DATASET_FILE, {"dataset_id": dataset.dataset_id})


@st.cache_resource(max_entries=8, show_spinner=False)
def _load_dataset_cached(path: str, modified_ns: int) -> Dataset:
    return Dataset.load(Path(path))


def current_dataset() -> Dataset | None:
    """Return the current dataset, or None when none is chosen or it cannot be read."""
    dataset_id = st.session_state.get(DATASET_KEY)
    if not dataset_id or not _valid_dataset_id(dataset_id):
        return None
    path = dataset_file(dataset_id)
    try:
        return _load_dataset_cached(str(path), path.stat().st_mtime_ns)
    except (TLError, OSError) as error:
        log.warning("Cannot load dataset %s: %s", dataset_id, error)
        return None


def open_dataset_with_progress(source: Path, display_name: str) -> tuple[Dataset | None, str | None]:
    """Open (ingest or reuse) a dataset while a progress bar shows the images checked.

    Returns the dataset and None, or None and an error text for the user that
    names `display_name` in place of the path of `source`, which may be a
    temporary upload file.
    """
    bar = st.progress(0.0, text=t("data.opening", name=display_name))
    last_update = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last_update[0] < 0.2:
            return
        last_update[0] = now
        bar.progress(done / total if total else 1.0,
                     text=t("data.checking_images", name=display_name, done=done, total=total))

    try:
        dataset = open_dataset(source, progress=report)
    except TLError as error:
        message = str(error).replace(str(source), display_name)
        log.info("Opening %s failed: %s", display_name, message)
        message = translate_code(getattr(error, "code", None), message, getattr(error, "params", None))
        return None, t("data.open_failed", name=display_name, message=message)
    except Exception:
        log.exception("Unexpected error while opening %s", display_name)
        return None, t("data.open_failed_unexpected", name=display_name)
    finally:
        bar.empty()
    return dataset, None


# Watched race ---------------------------------------------------------------


def watched_race() -> str | None:
    """Return the race chosen in this session, else the one named in the URL."""
    race = st.session_state.get(RACE_KEY)
    if race:
        return race
    requested = st.query_params.get("race")
    return requested or None


def set_watched_race(race: str | None) -> None:
    st.session_state[RACE_KEY] = race
    set_query_param("race", race)


# Run progress ---------------------------------------------------------------

PROGRESS_KEY = "run_progress"
ACTIVE_STATUSES = (jobs.STATUS_QUEUED, runs.STATUS_RUNNING)
@dataclass
class RunProgress:
    """The progress of one run, folded from its events.jsonl.

    `offset` is the number of bytes of events.jsonl already read, so each
    refresh reads only new events. Times are Unix seconds from the events.
    """

    offset: int = 0
    phase: str | None = None  # "loading:train", "features:val", ...
    phase_done: int = 0
    phase_total: int = 0
    phase_first: tuple[float, int] | None = None  # (time, done) of the phase's first event
    last_time: float | None = None
    started_at: float | None = None  # time of the "start" event: epochs begin
    epochs: int = 0
    batches: int = 0
    epoch: int = 0  # the epoch in progress, or the last finished one
    batch: int = 0
    batch_points: list[dict] = field(default_factory=list)
    epoch_rows: list[dict] = field(default_factory=list)
    end: dict | None = None

    def apply(self, event: dict) -> None:
        """Fold one event (see tl_core.training) into the progress."""
        kind = event.get("type")
        self.last_time = event.get("time", self.last_time)
        if kind == "phase":
            if event.get("phase") != self.phase:
                self.phase_first = (self.last_time, event.get("done", 0))
            self.phase = event.get("phase")
            self.phase_done = event.get("done", 0)
            self.phase_total = event.get("total", 0)
        elif kind == "start":
            self.started_at = self.last_time
            self.epochs = event.get("epochs", 0)
            self.batches = event.get("batches_per_epoch", 0)
        elif kind == "batch":
            self.epoch = event["epoch"]
            self.batch = event["batch"]
            self.batches = event.get("batches") or self.batches
            self.batch_points.append(
                {
                    "epoch": self.epoch - 1 + self.batch / max(self.batches, 1),
                    "loss": event.get("loss"),
                    "accuracy": event.get("accuracy"),
                }
            )
        elif kind == "epoch":
            self.epoch = event["epoch"]
            self.batch = self.batches
            self.epoch_rows.append({key: event.get(key) for key in runs.METRIC_COLUMNS})
        elif kind == "end":
            self.end = event

    def training_fraction(self) -> float:
        """Return the share of all epochs done, from 0 to 1."""
        if not self.epochs or not self.epoch:
            return 0.0
        done = self.epoch - 1 + self.batch / max(self.batches, 1)
        return min(max(done / self.epochs, 0.0), 1.0)

    def images_per_second(self, batch_size: int) -> float | None:
        """Return the latest measured speed, or an estimate from batch timings."""
        if self.started_at is None:
            if self.phase_first is None or self.last_time is None:
                return None
            first_time, first_done = self.phase_first
            elapsed = self.last_time - first_time
            return (self.phase_done - first_done) / elapsed if elapsed > 0 else None
        if self.epoch_rows and self.epoch_rows[-1].get("images_per_second"):
            return self.epoch_rows[-1]["images_per_second"]
        elapsed = (self.last_time or 0) - self.started_at
        if self.batch and elapsed > 0:
            return self.batch * batch_size / elapsed
        return None

    def eta_seconds(self, now: float) -> float | None:
        """Return an estimate of the seconds left in the current phase or in training."""
        if self.last_time is None:
            return None
        since_last = max(now - self.last_time, 0.0)
        if self.started_at is not None:
            fraction = self.training_fraction()
            if fraction <= 0:
                return None
            elapsed = self.last_time - self.started_at
            return max(elapsed * (1 - fraction) / fraction - since_last, 0.0)
        if self.phase_first is None or self.phase_total <= 0:
            return None
        first_time, first_done = self.phase_first
        elapsed = self.last_time - first_time
        if elapsed <= 0 or self.phase_done <= first_done:
            return None
        rate = (self.phase_done - first_done) / elapsed
        return max((self.phase_total - self.phase_done) / rate - since_last, 0.0)

    def curve_rows(self) -> list[dict]:
        """Return chart rows: one per batch (fractional epoch) and one per finished epoch."""
        rows = [dict(point) for point in self.batch_points]
        rows.extend(dict(row) for row in self.epoch_rows)
        return sorted(rows, key=lambda row: row["epoch"])


def refresh_run_progress(run_id: str, folder: Path) -> RunProgress:
    """Read the events written since the last call and return the run's progress."""
    store = st.session_state.setdefault(PROGRESS_KEY, {})
    progress = store.get(run_id)
    if progress is None:
        progress = store[run_id] = RunProgress()
    events, progress.offset = runs.read_events(folder, progress.offset)
    for event in events:
        progress.apply(event)
    return progress


def format_duration(seconds: float) -> str:
    """Return seconds as m:ss, or h:mm:ss from one hour on."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_progress(status: str, progress: RunProgress, batch_size: int,
                      now: float | None = None) -> tuple[float, str]:
    """Return the progress bar value (0 to 1) and its text for a queued or running run."""
    if status == "queued":
        return 0.0, t("progress.queued")
    now = time.time() if now is None else now

    if progress.started_at is None and progress.phase is None:
        return 0.0, t("progress.starting")
    if progress.started_at is None:
        kind, _, split = progress.phase.partition(":")
        key = "progress.features" if kind == "features" else "progress.loading"
        split_name = t(f"split.{split}") if split else ""
        fraction = progress.phase_done / progress.phase_total if progress.phase_total else 0.0
        text = t(key, split=split_name, done=progress.phase_done, total=progress.phase_total)
    elif progress.epoch == 0:
        fraction, text = 0.0, t("progress.first_epoch")
    elif progress.training_fraction() >= 1 and progress.end is None:
        fraction, text = 1.0, t("progress.scoring")
    else:
        fraction = progress.training_fraction()
        text = t("progress.epoch", epoch=progress.epoch, epochs=progress.epochs,
                 batch=progress.batch, batches=progress.batches)

    details = [text]
    eta = progress.eta_seconds(now)
    if eta is not None and fraction < 1:
        details.append(t("progress.eta", eta=format_duration(eta)))
    speed = progress.images_per_second(batch_size)
    if speed:
        details.append(t("progress.speed", speed=speed))
    return min(max(fraction, 0.0), 1.0), " · ".join(details)
