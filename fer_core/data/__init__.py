"""Data: loading datasets in the forms users have, their statistics, training batches,
in-model augmentation and the compact ``.ferpack`` format.

- ``loaders``: CSV, Kaggle-layout folders and zips, class folders, packs -> uint8 faces; the disk cache.
- ``stats``: class counts, pixel histograms, exact duplicates and cross-split leaks.
- ``batches``: mixup, cutmix and class weights on numpy batches.
- ``augmentation``: ``FaceAugment``, flip/rotation/scale/shift/contrast/erasing inside the model.
- ``faces``: decoding photos, face detection (MTCNN, Haar) and the 48x48 face crop Predict uses.
- ``video``: checking a video (format, size, duration caps) and sampling its frames (OpenCV's FFmpeg).
- ``photo_sets``: the photos of a zip (read in memory) or a folder, for a photo collection.
- ``packfile`` (the format) and ``pack`` (packing a dataset).

May import: ``fer_core.labels``, ``fer_core.fileio`` and each other. Nothing above (models,
inference, training, app).
"""
