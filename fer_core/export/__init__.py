"""Export: a model taken out of FER Studio, as ONNX (float32 or int8), LiteRT or a SavedModel, with
its TTA and temperature inside, checked against the Keras model it came from, its card beside it
(``exporting``: ``export_model``, ``ExportOptions``, the format registry).

May import: ``fer_core.runtime``, ``fer_core.data`` and the base modules.
"""
