"""Cluster: photo collections and videos in chunks on a Dask ``distributed`` cluster, merged into
the same files as one process writes, resumable.

- ``options``: ``ClusterOptions`` and the ``local[:N]`` address rule, importable without Dask.
- ``chunks``: connecting, the model on each worker, chunks on disk, the two kinds of work.

May import: ``fer_core.answering``, ``fer_core.media``, ``fer_core.runtime``, ``fer_core.data``,
the base modules, and Dask's ``distributed`` (in ``chunks`` alone).
"""
