"""Media: photos, photo collections, videos and the live camera, answered by an ``Answerer``.

- ``photos``: finding, cropping and classifying the faces in photos; results as JSON, table rows
  and an annotated photo.
- ``collections``: every face of a photo collection (zip or folder), with its summary and pictures.
- ``video``: expressions over time in a video (``analyze_frame``: the step it shares with the live
  camera; ``analyze_segment``: a time segment, for a cluster), its files and the annotated MP4.
- ``live``: a live camera's frames classified as they arrive, dropped rather than queued, recorded.

Every function takes an ``Answerer`` (``fer_core.answering``), named only for type annotations
(``if TYPE_CHECKING``), so media never imports the layer above it at run time.

May import: ``fer_core.runtime``, ``fer_core.data``, ``fer_core.faces`` and the base modules.
"""
