"""Translations: `t(key, **params)` in the language of the current session.

Strings live in `ui/strings_*.py` modules as `STRINGS = {key: (english, chinese)}`.
Each module belongs to one part of the app, and this module merges them. Keys of
error and notice codes from `tl_core` are `code.<CODE>`; `translate_code`
falls back to the English message from `tl_core` when no translation exists.
"""

import importlib
import logging

import streamlit as st

log = logging.getLogger(__name__)

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "lang"
STRING_MODULES = ("common", "data", "train", "results")


def _load_strings() -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for name in STRING_MODULES:
        try:
            module = importlib.import_module(f"ui.strings_{name}")
        except ModuleNotFoundError as error:
            if error.name != f"ui.strings_{name}":
                raise
            continue
        for key in module.STRINGS:
            if key in merged:
                log.warning("Translation key %r is defined twice; ui.strings_%s wins", key, name)
        merged.update(module.STRINGS)
    return merged


STRINGS = _load_strings()


def current_language() -> str:
    """Return the language code of this session ("en" or "zh")."""
    language = st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **params) -> str:
    """Return the text of `key` in the current language, formatted with `params`.

    An unknown key returns the key itself, so a missing string shows up on the
    page instead of crashing it.
    """
    pair = STRINGS.get(key)
    if pair is None:
        log.warning("Missing translation key %r", key)
        return key
    text = pair[1] if current_language() == "zh" else pair[0]
    return text.format(**params) if params else text


def has_key(key: str) -> bool:
    return key in STRINGS


def translate_code(code: str | None, fallback: str, params: dict | None = None) -> str:
    """Return the translation of a tl_core error or notice code, else `fallback`.

    `fallback` is the English message tl_core wrote. Translations are used in
    Chinese only, because the English message from tl_core names more detail.
    A translation whose placeholders `params` cannot fill also falls back.
    """
    key = f"code.{code}"
    if not code or key not in STRINGS or current_language() != "zh":
        return fallback
    readable = {name: _readable(value) for name, value in (params or {}).items()}
    try:
        return STRINGS[key][1].format(**readable)
    except (KeyError, IndexError, ValueError):
        return fallback


def _readable(value):
    """Render list and dict parameters as comma-separated text."""
    if isinstance(value, dict):
        return ", ".join(f"{name} ({count})" for name, count in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return value
