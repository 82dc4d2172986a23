"""Evaluation: how good a model is, measured, never asserted.

- ``metrics``: accuracy, macro-F1, per-class scores, the confusion matrix, mistakes and sample
  grids on a split; a model's PublicTest measurement for its card; FER+ agreement.
- ``statistics``: 95% intervals of every metric (Wilson, bootstrap), paired comparisons (McNemar).
- ``analysis``: cached predictions on a split, confused pairs, calibration (``calibrate_model``)
  and storing an operating point (``store_operating_point``).
- ``operating_points``: per-class offsets fitted on val for a recall target.
- ``photo_evaluation``: a model measured on labelled whole photos (class folders or a labels file).
- ``explain``: HiResCAM heat maps (``explain_faces``, ``explain_photo``, ``write_explanations``).

May import: ``fer_core.media``, ``fer_core.runtime``, ``fer_core.models``, ``fer_core.data``,
``fer_core.faces`` and the base modules; ``fer_core.answering`` only for type annotations.
"""
