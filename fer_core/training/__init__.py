"""Training: runs, searches and everything that records or schedules them.

- ``train``: ``TrainConfig``, ``train``/``resume`` (the one readable training entry point).
- ``tune``: Keras-Tuner searches; ``presets``: named recipes; ``time_budget``: epochs that fit.
- ``hardware``: GPU, bfloat16 and mixed precision; ``provenance``: where and how a run ran.
- ``runs`` (the run registry), ``progress`` (``progress.json``), ``history`` (``history.csv``),
  ``jobs`` (the dashboard's background queue).
- ``bundle``: shipping a run's model with its card, ensembles of runs, promotion.

May import: ``fer_core.inference``, ``fer_core.models``, ``fer_core.data`` and the base modules.
Never ``fer_core.app`` or ``fer_core.cli``.
"""
