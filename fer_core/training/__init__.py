"""Training: runs, searches and everything that records or schedules them.

- ``config``: ``TrainConfig`` and ``TuneConfig``, each option with its help, bounds and choices
  (the command line's flags and the Train & Tune form are made from them); no Keras.
- ``train``: ``train``/``resume``, the one readable training entry point, and the steps it takes:
  ``inputs`` (the run's data), ``distill`` (teachers' soft labels), ``optim`` (optimizer, schedule,
  compile), ``callbacks`` (``RunMonitor``: progress, history, best model, checkpoint),
  ``lifecycle`` (logging, SIGTERM, the outcome), ``finetune`` (a parent model, freezing).
- ``tune``: Keras-Tuner searches; ``distributed``: the chief and its worker processes.
- ``presets``: named recipes; ``time_budget``: epochs that fit in minutes.
- ``hardware``: GPU, bfloat16, mixed precision, the preset for this machine; ``provenance``: where
  and how a run ran.
- ``runs`` (the run registry), ``progress`` (``progress.json``), ``history`` (``history.csv``),
  ``jobs`` (the dashboard's background queue: each job in its own ``run-job`` process).
- ``bundle``: shipping a run's model with its card, ensembles of runs, promotion.

May import: ``fer_core.inference``, ``fer_core.models``, ``fer_core.data`` and the base modules.
Never ``fer_core.app`` or ``fer_core.cli``.
"""
