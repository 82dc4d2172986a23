"""The dashboard's glue, one job a module:

- ``startup``: the one start-up function (``start``) that changes process state, called by
  ``streamlit_app.py`` and each page's ``start_page``; nothing here changes it at import.
- ``session``: settings, the page frame, datasets (loading, the active one, pickers, uploads), the
  model list and the run registry as the pages show them.
- ``cache``: answerers keyed by ``AnswerSpec``, each photo's answer, probabilities on a split,
  duplicate searches, and the server's ``ModelGate``.
- ``controls``: ``answer_controls``, the widgets that make an ``AnswerSpec`` (Predict, Your photos).
- ``widgets``: a figure with its interval, a recipe's time here, an export with its download.
- ``forms``: form widgets made from config fields.
- ``corrections``: the Predict page's corrections (per face, a collection's label column) and
  its Adapt button.
- ``media``: video and photo-collection work with progress bars; ``live``: the live camera over WebRTC.

The pages in ``pages/`` only lay out widgets and call these and the library below. Plotly figures
are in ``fer_core.charts`` (the command line draws them too).

May import anything in fer_core except ``fer_core.cli``; nothing in fer_core imports it.
"""
