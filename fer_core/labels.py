"""FER2013's classes in its own order (labels everywhere are indices into ``CLASSES``) and the
face size every model takes. The lowest layer of fer_core: it imports nothing."""

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
IMAGE_SIZE = 48
