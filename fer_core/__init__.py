"""FER Studio core library: FER2013 data, Keras models, training, tuning, evaluation.

The class order is FER2013's own and is used everywhere (labels are indices into it).
"""

import os

# TensorFlow turns its oneDNN kernels on only for some Intel CPUs; on this project's AMD EPYC
# machines turning them on doubles CPU training speed (benchmarks/bench_train_speed.py).
# It must be set before TensorFlow is imported; a user's own setting wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
IMAGE_SIZE = 48

__version__ = "0.1.0"
