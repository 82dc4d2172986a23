"""Inference: using a trained model.

- ``answering``: ``AnswerSpec``, how every Predict path answers (model, TTA, calibration, operating
  point, detector, framing), resolved once; ``model_card`` for any model file.
- ``gate``: ``ModelGate``, turns at the model for the dashboard's sessions and the API's requests.
- ``photo_evaluation``: a model measured on labelled whole photos (class folders or a labels file).
- ``loading``: safe-mode loading (``safe_load``), the one check that a model maps 48x48 grey faces
  to the 7 classes (``checked_face_model``), the default/bundled/promoted model paths.
- ``saving``: writing a model for inference (float32, no optimizer state, atomically).
- ``tta``: test-time augmentation wrappers; ``ensemble``: averaging models in one file.
- ``evaluation``: metrics, confusion matrix, mistakes and sample grids on a split; a model's PublicTest
  measurement for its card.
- ``photos``: finding, cropping and classifying the faces in photos.
- ``video_analysis``: expressions over time in a video (``analyze_frame``: the step it shares with
  the live camera); ``tracking``: one id per face across frames.
- ``live``: a live camera's frames classified as they arrive, dropped rather than queued, recorded.
- ``photo_collections``: every face of a photo collection (zip or folder), with its summary.
- ``cluster``: collections and videos in chunks on a Dask cluster, merged into the same answer,
  resumable (``cluster_options``: its options, importable without Dask).
- ``analysis``: cached predictions, confused pairs, calibration (and ``calibrate_model``).
- ``explain``: HiResCAM heat maps (``explain_faces``, ``explain_photo``, ``write_explanations``).
- ``cards``: ``ModelCard`` (typed, one fallback), the best TTA by a card (no fer_core imports, so
  ``loading`` can use it).
- ``runtime``: the ``FaceModel`` protocol and ``predict_probabilities`` for any model; exported ``.onnx``/``.tflite`` models on
  onnxruntime or LiteRT, with no TensorFlow or Keras import (``requirements-runtime.txt``).
- ``export``: writing a model as ONNX (float32 or int8), LiteRT or a SavedModel, checked against Keras.
- ``statistics``: 95% intervals of every metric (Wilson, bootstrap), paired comparisons (McNemar).
- ``operating_points``: per-class offsets fitted on val for a recall target, applied when asked.

May import: ``fer_core.models``, ``fer_core.data`` and the base modules (``labels``, ``errors``,
``options``, ``fileio``, ``settings``), and Dask's ``distributed`` in ``cluster`` alone. Never ``fer_core.training``, ``fer_core.app`` or ``fer_core.cli``.
"""
