"""The dashboard's session frame: every page's start (``start_page``), the server's settings
(read once per rerun, defaults < secrets.toml < environment) and the split picker that starts on
PublicTest. Datasets, models and runs as the pages show them are ``datasets``, ``models``, ``runs``."""

from __future__ import annotations


import streamlit as st

from fer_core.errors import ConfigError
from fer_core.settings import Settings


VAL_SPLIT = "val"  # what every split picker starts on: everything is chosen on PublicTest


def start_page(title: str) -> None:
    """Each page's first call: its browser title and heading, under the app's own page list.

    Why the check: with a ``pages/`` folder beside it, Streamlit starts a server in its older
    multipage mode, in which it runs a page's file directly and lists the files' own names
    ("streamlit app", "Train and Tune") until some session first runs ``streamlit_app.py`` (its
    ``st.navigation`` switches the server over). A server whose first visitor opened a page's URL
    stayed in that mode. Here such a first run switches over and starts again, so every visitor
    gets the Home page's navigation."""
    from streamlit.runtime.pages_manager import PagesManager

    from fer_core.app.startup import start

    start()
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    st.set_page_config(page_title=f"{title} - FER Studio", page_icon=":performing_arts:", layout="wide")
    st.title(title)


def settings() -> Settings:
    """The server's settings (``fer_core.settings``: defaults < secrets.toml < environment), read at
    the top of each page and passed down. A broken secrets.toml or a bad value stops the page
    with one message naming it."""
    try:
        return Settings.load()
    except ConfigError as exc:
        st.error(f"FER Studio's settings cannot be read: {exc}")
        st.stop()
        raise  # st.stop() raises; this line is for readers and type checkers


def split_picker(container, splits: list[str], key: str, preferred: str = VAL_SPLIT, radio: bool = False) -> str:
    """A split chooser that starts on ``preferred`` (PublicTest, 'val', unless a run says otherwise)."""
    index = splits.index(preferred) if preferred in splits else 0
    if radio:
        return container.radio("Split", splits, index=index, horizontal=True, key=key)
    return container.selectbox("Split", splits, index=index, key=key)
