"""The export and serve commands: a model taken out of the lab, as a file (ONNX, LiteRT,
SavedModel) or as an HTTP API."""

from __future__ import annotations

import argparse
import shlex
import sys

from fer_core.data.loaders import existing_dataset_path
from fer_core.inference.loading import existing_model_path
from fer_core.settings import Settings


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.inference.export import ExportOptions, export_command

    options = ExportOptions(format=args.format, int8=args.int8, tta=args.tta, data=args.calibration_data)
    options.check(args.out)
    existing_model_path(args.model, settings, keras_only=True)  # refused before TensorFlow loads
    if options.data:
        existing_dataset_path(options.data)
    from fer_core.inference.export import export_model

    card = export_model(args.model, args.out, options, command=export_command(args.model, args.out, options))
    parity = card["parity"]
    line = (f"wrote {args.out} ({card['file_bytes'] / 1e6:.1f} MB, {options.format}{' int8' if options.int8 else ''}, "
            f"TTA {card['tta']}) and its card {args.out}.json; on {parity['faces']} faces it agrees with the Keras "
            f"model on {parity['top1_agreement']:.2%} of answers, largest probability difference "
            f"{parity['max_abs_probability_difference']:.2g}")
    if "keras_accuracy" in parity:
        line += f"; accuracy {parity['exported_accuracy']:.2%} (Keras {parity['keras_accuracy']:.2%})"
    print(line)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.serve.server import ServeOptions, run_server

    options = ServeOptions(model=str(existing_model_path(args.model, settings)), host=args.host, port=args.port,
                           workers=args.workers, queue=args.queue, detector=args.detector,
                           max_photos=settings.max_photos, operating_point=args.operating_point)
    print(f"serving {options.model} on http://{shlex.quote(args.host)}:{args.port} (docs at /docs)", file=sys.stderr)
    return run_server(options)
