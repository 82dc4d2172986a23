"""Serving: a model as an HTTP API (``python -m fer_core serve``), FastAPI on uvicorn.

- ``config``: ``ServeOptions`` (address, processes, limits), the API key rule, shared names;
  no FastAPI, so the command line checks options cheaply.
- ``schemas``: the answers as pydantic models (``/docs`` shows them).
- ``routes``: ``/health``, ``/metrics``, ``/v1/model``, ``/v1/predict``, with typed dependencies.
- ``metrics``: Prometheus counters, histogram and gauge, summed over worker processes.
- ``server``: ``create_app`` (the routes, the bounded queue, errors as JSON, loading and warming the
  ``AnswerSpec``'s ``Answerer``) and ``run_server`` (uvicorn, one or more processes).

May import: ``fer_core.answering`` and everything below it. Not ``fer_core.app``
(the dashboard's Streamlit glue) nor ``fer_core.training``; ``fer_core.cli`` calls it. With an
exported ``.onnx`` model it imports neither TensorFlow nor Keras (``requirements-runtime.txt``).
"""
