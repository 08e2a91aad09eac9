"""Page setup and the sidebar every page shows.

Each page starts with `page_setup("<title key>")`: it restores the session
from the URL, configures the page and draws the sidebar (page links,
language switch, current dataset, running and queued jobs).
"""

from pathlib import Path

import streamlit as st

from tl_core import jobs
from tl_core.backbones import BACKBONES
from ui import state
from ui.state import ACTIVE_STATUSES
from ui.i18n import LANGUAGES, current_language, has_key, t

# The job list rereads the run folders this often, so jobs started in another
# tab or by the CLI appear too.
JOBS_REFRESH_SECONDS = 2
NAV_ICONS = {
    "app": ":material/home:",
    "1_Data": ":material/photo_library:",
    "2_Train": ":material/speed:",
    "3_Compare": ":material/compare_arrows:",
    "4_Predict": ":material/image_search:",
}


def page_setup(title_key: str) -> None:
    """Restore language and dataset, set the page title and draw the sidebar."""
    state.init_session()
    st.set_page_config(
        page_title=f"{t(title_key)} · {t('app.title')}",
        page_icon=":material/speed:",
        layout="wide",
    )
    render_sidebar()


def render_sidebar() -> None:
    with st.sidebar:
        navigation_links()
        language_switch("sidebar")
        st.divider()
        current_dataset_summary()
        st.divider()
        jobs_summary()


def navigation_links() -> None:
    """Link every page with a translated label. The links carry language and dataset."""
    pages = [state.APP_ROOT / "app.py", *sorted((state.APP_ROOT / "pages").glob("*.py"))]
    params = state.link_query_params()
    for path in pages:
        stem = path.stem
        label = t(f"nav.{stem}") if has_key(f"nav.{stem}") else _label_from_file_name(stem)
        relative = path.relative_to(state.APP_ROOT).as_posix()
        st.page_link(relative, label=label, icon=NAV_ICONS.get(stem), query_params=params)


def _label_from_file_name(stem: str) -> str:
    return stem.split("_", 1)[-1].replace("_", " ")


def language_switch(location: str) -> None:
    """Draw the English / 简体中文 switch. `location` keeps widget keys unique per place."""
    widget_key = f"{location}.language"
    st.session_state[widget_key] = current_language()
    st.radio(
        t("sidebar.language"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.get,
        horizontal=True,
        key=widget_key,
        on_change=_apply_language,
        args=(widget_key,),
        label_visibility="collapsed",
    )


def _apply_language(widget_key: str) -> None:
    state.set_language(st.session_state[widget_key])


def current_dataset_summary() -> None:
    st.markdown(f"**{t('sidebar.dataset')}**")
    dataset = state.current_dataset()
    if dataset is None:
        st.caption(t("sidebar.no_dataset"))
        return
    counts = dataset.counts()
    st.markdown(f"`{dataset.source_name or dataset.dataset_id}`")
    st.caption(
        t("sidebar.dataset_counts", classes=len(dataset.classes), total=sum(counts.values()),
          train=counts["train"], val=counts["val"], test=counts["test"])
    )


# Defined once at import, so every script run reuses the same fragment
# instead of registering a new one.
@st.fragment(run_every=JOBS_REFRESH_SECONDS)
def jobs_summary() -> None:
    """List queued and running jobs with a short progress text."""
    st.markdown(f"**{t('sidebar.jobs')}**")
    active = [info for info in jobs.list_runs() if info.status in ACTIVE_STATUSES]
    if not active:
        st.caption(t("sidebar.no_jobs"))
        return
    for info in reversed(active):
        config = info.config
        spec = BACKBONES.get(config.get("backbone"))
        name = spec.display_name if spec else config.get("backbone", info.run_id)
        progress = state.refresh_run_progress(info.run_id, Path(info.folder))
        fraction, text = state.describe_progress(
            info.status, progress, config.get("batch_size", 32)
        )
        mode = t(f"mode.{config.get('mode')}")
        st.markdown(f"{name} · {mode}")
        st.progress(fraction, text=text)
