"""FER Studio core library: FER2013 data, Keras models, training, tuning, evaluation.

The class order is FER2013's own and is used everywhere (labels are indices into it).
"""

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
IMAGE_SIZE = 48

__version__ = "0.1.0"
