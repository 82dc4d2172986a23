"""Answering: how a model answers, and a model ready to answer.

- ``spec``: ``AnswerSpec``, every value that decides an answer besides the pixels (model, TTA,
  calibration, operating point, detector, framing, detection sizes, threads), resolved once;
  ``share_cores`` for processes that share a machine.
- ``answerer``: ``Answerer`` (``AnswerSpec.load()``): the spec, its model, its card and its turn at
  the model, with ``photos``, ``files``, ``collection``, ``frame``, ``video`` and ``explain``.
- ``gate``: ``ModelGate``, turns at the model for the dashboard's sessions and the API's requests.

May import: ``fer_core.evaluation``, ``fer_core.media``, ``fer_core.runtime``, ``fer_core.faces``,
``fer_core.data`` and the base modules. No settings are read here: the entry points resolve a
spec with theirs.
"""
