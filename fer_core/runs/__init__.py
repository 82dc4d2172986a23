"""Runs: what a training run or search leaves on disk, and what is made of it.

- ``registry``: the run registry (SQLite), the runs' rows and comparisons.
- ``progress`` (``progress.json``), ``history`` (``history.csv``), ``provenance`` (where and how a
  run ran), ``hardware`` (GPU, bfloat16, mixed precision, the preset for this machine).
- ``bundle``: shipping a run's model with its card, ensembles of runs, promotion.

May import: ``fer_core.evaluation``, ``fer_core.runtime``, ``fer_core.models``, ``fer_core.data``
and the base modules. Never ``fer_core.training`` (which writes runs), ``app`` or ``cli``.
"""
