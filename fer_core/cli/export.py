"""The export and serve commands: a model taken out of the lab, as a file (ONNX, LiteRT,
SavedModel) or as an HTTP API."""

from __future__ import annotations

import argparse
import shlex
import sys

from fer_core.data.loaders import existing_dataset_path
from fer_core.runtime.loading import existing_model_path
from fer_core.settings import Settings


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.export.exporting import ExportOptions, export_command

    options = ExportOptions(format=args.format, int8=args.int8, tta=args.tta, data=args.calibration_data)
    options.check(args.out)
    source = existing_model_path(args.model, settings, keras_only=True)  # refused before TensorFlow loads
    if options.data:
        existing_dataset_path(options.data)
    from fer_core.export.exporting import export_model

    card = export_model(source, args.out, options, command=export_command(args.model, args.out, options),
                        cache_dir=settings.cache_dir)
    print(f"wrote {args.out} and its card {args.out}.json. {card.parity_words()}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.serve.server import ServeOptions, run_server

    from fer_core.cli.predict import answer_spec_from, check_device_here

    options = ServeOptions(host=args.host, port=args.port, workers=args.workers, queue=args.queue,
                           max_photos=settings.max_photos)
    options.check()
    spec = answer_spec_from(args, settings)
    check_device_here(spec)
    print(f"serving {spec.model} on http://{shlex.quote(args.host)}:{args.port} (docs at /docs)", file=sys.stderr)
    return run_server(options, spec)
