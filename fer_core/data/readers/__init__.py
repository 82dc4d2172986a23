"""Dataset readers, one per kind of source, each returning a ``FERDataset``:

- ``image_tree``: folders and zips of images (the Kaggle layout, class folders), decoded in threads;
- ``csv_table``: ``fer2013.csv`` (``emotion,pixels[,Usage]``), row by row;
- ``ferpack``: a ``.ferpack`` file (``fer_core.data.packfile``), through ``image_tree``.

``fer_core.data.loaders.load_dataset`` picks the reader and the cache; nothing else calls them.
"""
