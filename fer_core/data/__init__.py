"""Data: loading datasets in the forms users have, their statistics, training batches,
in-model augmentation, the compact ``.ferpack`` format, and the photo and video files Predict reads.

- ``loaders``: the entry point, ``load_dataset`` (picks a reader, uses the cache).
- ``dataset``: ``FERDataset``, ``Split``, ``LoadReport``, ``LoadOptions``; carving val; data fractions.
- ``archives`` (zips under ``ArchiveLimits``, folders), ``naming`` (class and split from file names),
  ``readers/`` (``image_tree``, ``csv_table``, ``ferpack``), ``cache`` (decoded datasets on disk).
- ``stats``: class counts, pixel histograms, exact duplicates and cross-split leaks.
- ``batches``: mixup, cutmix and class weights on numpy batches.
- ``augmentation``: ``FaceAugment``, flip/rotation/scale/shift/contrast/erasing inside the model.
- ``video_files``: checking a video (format, size, duration caps) and sampling its frames (OpenCV's FFmpeg).
- ``photo_files``: the photos of a zip (read in memory) or a folder, for a photo collection, and the
  labelled photo sets under a folder.
- ``corrections``: the faces whose class a user set on Predict, kept as a labelled photo set.
- ``ferplus``: FER+'s ten-annotator votes for FER2013's images: majority and soft targets, agreement.
- ``packfile`` (the format) and ``pack`` (packing a dataset).

May import: ``fer_core.faces`` (a dataset of your own photos is cropped as Predict crops them), the
base modules and each other; ``settings`` for the ``Settings`` type and its defaults only, never
``Settings.load`` (limits and folders are values the entry points hand down). Nothing above
(models, runtime, media, evaluation, training, app, cli). Nothing outside ``data`` imports
a name of it that starts with an underscore.
"""
