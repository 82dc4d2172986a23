"""Cluster: photo collections and videos in chunks on a Dask ``distributed`` cluster, merged into
the same files as one process writes, resumable.

- ``options``: ``ClusterOptions`` and the ``local[:N]`` address rule, importable without Dask.
- ``workers``: connecting (a ``ClusterSession``), the model on each worker, what workers are asked.
- ``chunks``: chunks on disk, their scheduling, the two kinds of work.

May import: ``fer_core.answering``, ``fer_core.media``, ``fer_core.runtime``, ``fer_core.data``,
the base modules, and Dask's ``distributed`` (in ``workers`` and ``chunks`` alone).
"""
