"""Serving: a model as an HTTP API (``python -m fer_core serve``), FastAPI on uvicorn.

- ``server``: ``ServeOptions``, ``create_app`` (the endpoints, the bounded queue, the API key,
  errors as JSON) and ``run_server`` (uvicorn, one or more processes).

May import: ``fer_core.inference``, ``fer_core.data`` and the base modules. Not ``fer_core.app``
(the dashboard's Streamlit glue) nor ``fer_core.training``; ``fer_core.cli`` calls it. With an
exported ``.onnx`` model it imports neither TensorFlow nor Keras (``requirements-runtime.txt``).
"""
