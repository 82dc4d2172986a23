"""Inference: using a trained model.

- ``loading``: safe-mode loading, the default/bundled/promoted model paths.
- ``saving``: writing a model for inference (float32, no optimizer state, atomically).
- ``tta``: test-time augmentation wrappers; ``ensemble``: averaging models in one file.
- ``evaluation``: metrics, confusion matrix, mistakes and sample grids on a split; a model's PublicTest
  measurement for its card.
- ``faces``: finding, cropping and classifying the faces in photos.
- ``video``: expressions over time in a video; ``tracking``: one id per face across frames.
- ``photo_sets``: every face of a photo collection (zip or folder), with its summary.
- ``cards``: reading model cards (no fer_core imports, so ``loading`` can use it).

May import: ``fer_core.models``, ``fer_core.data``, ``fer_core.labels``, ``fer_core.fileio``,
``fer_core.settings``. Never ``fer_core.training`` or ``fer_core.app``.
"""
