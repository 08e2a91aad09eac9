"""Home page of Transfer Learning Lab: what the app does and a one-click start.

Run with `streamlit run app.py`; the other pages live in pages/.
"""

import streamlit as st

from ui import state
from ui.i18n import t
from ui.sidebar import language_switch, page_setup

DATA_PAGE = "pages/1_Data.py"
STEPS = (
    ("home.step_data", ":material/photo_library:"),
    ("home.step_race", ":material/speed:"),
    ("home.step_compare", ":material/insights:"),
)


def main() -> None:
    page_setup("nav.app")
    title_and_language()
    three_steps()
    sample_start()


def title_and_language() -> None:
    title_column, language_column = st.columns([5, 2], vertical_alignment="bottom")
    with title_column:
        st.title(t("app.title"))
    with language_column:
        language_switch("home")
    st.markdown(t("home.intro"))


def three_steps() -> None:
    columns = st.columns(len(STEPS), border=True)
    for number, (column, (key, icon)) in enumerate(zip(columns, STEPS), start=1):
        with column:
            st.subheader(f"{icon} {number}. {t(f'{key}.title')}")
            st.markdown(t(f"{key}.text"))


def sample_start() -> None:
    """Load the bundled sample dataset and open the Data page on it."""
    st.write("")
    available = state.SAMPLE_ZIP.is_file()
    clicked = st.button(
        t("home.sample_button"), type="primary", icon=":material/play_arrow:",
        key="home.sample", disabled=not available,
    )
    st.caption(t("home.sample_caption") if available else t("home.sample_missing"))
    if not clicked:
        return

    dataset, error = state.open_dataset_with_progress(state.SAMPLE_ZIP, state.SAMPLE_ZIP.name)
    if error:
        st.error(error)
        return
    state.set_current_dataset(dataset)
    st.switch_page(DATA_PAGE, query_params=state.link_query_params())


main()
