"""The dashboard's glue: Streamlit caching and session state (``dashboard``), video and
photo-collection work with progress bars (``media``) and plotly figures (``charts``). The pages in ``pages/`` only lay out widgets and call these and the
library below.

May import anything in fer_core except ``fer_core.cli``; nothing in fer_core imports it.
"""
