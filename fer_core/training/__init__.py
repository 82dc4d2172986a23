"""Training: the training step, searches, and the job queue that schedules them. What a run
leaves on disk (registry, progress, history, provenance, bundling) is ``fer_core.runs``.

- ``config``: ``TrainConfig`` and ``TuneConfig``, each option with its help, bounds and choices
  (the command line's flags and the Train & Tune form are made from them); no Keras.
- ``train``: ``train``/``resume``, the one readable training entry point, and the steps it takes:
  ``inputs`` (the run's data), ``distill`` (teachers' soft labels), ``optim`` (optimizer, schedule,
  compile), ``callbacks`` (``RunMonitor``: progress, history, best model, checkpoint),
  ``lifecycle`` (logging, SIGTERM, the outcome), ``finetune`` (a parent model, freezing).
- ``tune``: Keras-Tuner searches; ``distributed``: the chief and its worker processes.
- ``adapt``: a model's head fitted to a user's labelled photos (frozen body, FER2013 replay,
  k-fold figures), in about a minute on 2 cores.
- ``presets``: named recipes; ``time_budget``: epochs that fit in minutes.
- ``jobs``: the dashboard's background queue, each job in its own ``run-job`` process.

A training job is an entry point: it reads the settings it needs (the cache folder) itself.

May import: ``fer_core.runs``, ``fer_core.answering`` and everything below it. Never
``fer_core.app`` or ``fer_core.cli``.
"""
