"""Choice widgets whose option labels are translated.

With Streamlit 1.67, when a language switch changes the labels that
`format_func` returns, a keyed selectbox or multiselect keeps showing the
chosen option's label in the old language, and a keyed radio can show no
option selected (seen in Chromium). So each language gets its own widget,
whose key ends in the language code, and session state carries the choice
from one to the other.
"""

from collections.abc import Callable, Sequence

import streamlit as st

from ui.i18n import current_language


def widget_key(key: str) -> str:
    """Return the key of choice widget `key` in the session's language."""
    return f"{key}.{current_language()}"


def single_choice(widget: Callable, label: str, options: Sequence, default, key: str, **kwargs):
    """Draw `widget` (st.selectbox or st.radio) over `options`; return the chosen option.

    The first choice is `default`, later ones the option last chosen in any
    language, while it is still among `options`.
    """
    options = list(options)
    chosen = st.session_state.get(_choice_key(key), default)
    if chosen not in options:
        chosen = default
    value = widget(label, options, index=options.index(chosen), key=widget_key(key), **kwargs)
    st.session_state[_choice_key(key)] = value
    return value


def multiple_choice(label: str, options: Sequence, default: Sequence, key: str, **kwargs) -> list:
    """Draw st.multiselect over `options`; return the chosen options.

    The first choice is `default`, later ones the options last chosen in any
    language that are still among `options`.
    """
    options = list(options)
    chosen = [option for option in st.session_state.get(_choice_key(key), default) if option in options]
    values = st.multiselect(label, options, default=chosen, key=widget_key(key), **kwargs)
    st.session_state[_choice_key(key)] = values
    return values


def _choice_key(key: str) -> str:
    return f"{key}.choice"
