"""Names of runs and the notice for pages that need finished runs, shared by Compare and Predict."""

from datetime import datetime

import streamlit as st

from tl_core import jobs
from tl_core.backbones import BACKBONES
from ui import state
from ui.i18n import has_key, t

TRAIN_PAGE = "pages/2_Train.py"


def mode_name(mode: str) -> str:
    """Return the translated name of a training mode, or `mode` itself when it is unknown."""
    return t(f"mode.{mode}") if has_key(f"mode.{mode}") else mode


def run_label(info: jobs.RunInfo) -> str:
    """Return a short unique name of a run: backbone, mode, start time and the id's suffix."""
    config = info.config
    spec = BACKBONES.get(config.get("backbone"))
    backbone = spec.display_name if spec else config.get("backbone", "?")
    mode = mode_name(config.get("mode", "?"))
    return f"{backbone} · {mode} · {started_at(info.run_id)} · {info.run_id[-4:]}"


def started_at(run_id: str) -> str:
    """Return the start time encoded in a run id as month-day hour:minute, or its prefix."""
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").strftime("%m-%d %H:%M")
    except ValueError:
        return run_id[:15]


def no_runs_notice(message_key: str) -> None:
    """Draw the message `message_key` and a link to the Train page."""
    st.info(t(message_key))
    st.page_link(TRAIN_PAGE, label=t("results.go_train"), icon=":material/speed:",
                 query_params=state.link_query_params())
