"""Runtime: a model file made a model that runs, safely.

- ``loading``: safe-mode loading (``safe_load``), the one check that a model maps 48x48 grey faces
  to the 7 classes (``checked_face_model``), the default/bundled/promoted model paths, and
  ``answering_model``, the one builder of a model as it answers (TTA, temperature, offsets).
- ``cards``: ``ModelCard``, the one way in and out of a model's card (every file format), typed
  (``OperatingPoint``), and the cards fer_core writes.
- ``model``: the ``FaceModel`` protocol and ``predict_probabilities`` for any model.
- ``exported``: ``.onnx`` and ``.tflite`` models on onnxruntime or LiteRT, with no TensorFlow or
  Keras import (``requirements-runtime.txt``).
- ``devices``: where a model answers (``--device auto|cpu|gpu``: onnxruntime's CUDA provider, the
  Keras backend's GPU), checked and resolved on the machine that loads it.
- ``tta``: test-time augmentation wrappers; ``ensemble``: averaging models in one file;
  ``offsets``: a card's operating point applied; ``saving``: writing a model for inference.

May import: ``fer_core.models``, ``fer_core.data``, ``fer_core.faces`` and the base modules;
``settings`` for the ``Settings`` type and its defaults only (no ``Settings.load``).
"""
