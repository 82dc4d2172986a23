"""Widgets the pages share that say something computed: a figure with its interval, the time a
training recipe takes here, an export with its download."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fer_core.app.cache import model_gate
from fer_core.app.models import exports_dir
from fer_core.app.session import settings
from fer_core.runtime.cards import ModelCard


def interval_metric(container, label: str, value: float, interval: list[float] | None, percent: bool = True,
                    help: str | None = None) -> None:
    """A figure with its 95% interval on the line under it (grey, no arrow)."""
    from fer_core.evaluation.statistics import interval_words

    container.metric(label, f"{100 * value:.2f}%" if percent else f"{value:.3f}", interval_words(interval, percent),
                     delta_color="off", delta_arrow="off", help=help)


def estimate_words(job) -> str:
    """A training job's time on this machine, measured now (``fer_core.training.train.estimate``), in
    one sentence; one model call at a time, as every page's."""
    from fer_core.runs.hardware import device_description
    from fer_core.training.train import estimate

    with st.spinner("Timing 32 training steps of this recipe here ..."), model_gate().slot():
        plan = estimate(job)
    step = f"{plan.timing.step_seconds * 1000:.0f} ms a step, a val pass {plan.timing.val_pass_seconds:.1f} s"
    if plan.budget_seconds:
        return (f"On {device_description()}: the {plan.budget_seconds / 60:g}-minute budget fits {plan.epochs} "
                f"epochs ({step}), {plan.planned_seconds / 60:.1f} min planned"
                + ("" if plan.fits else "; not even one epoch fits: it trains one anyway") + ".")
    return (f"On {device_description()}: about {plan.planned_seconds / 60:.1f} min for {plan.epochs} epochs ({step}), "
            "besides loading the dataset the first time and any other job sharing the machine.")


def export_for_download(model_path: Path, options, dataset_path: Path | None) -> tuple[Path, ModelCard, bytes]:
    """Export a model into ``exports_dir`` (one model call at a time, as every page's): the file,
    its card and the bytes to download (a SavedModel folder as a zip)."""
    import dataclasses
    import io
    import zipfile

    from fer_core.export.exporting import default_export_path, export_command, export_model

    options = dataclasses.replace(options, data=str(dataset_path) if dataset_path else None)
    out = default_export_path(model_path, options, exports_dir(settings()))
    with st.spinner(f"Exporting {model_path.name} to {options.format} ..."), model_gate().slot():
        card = export_model(model_path, out, options, command=export_command(model_path, out, options),
                            cache_dir=settings().cache_dir)
    if out.is_file():
        return out, card, out.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(out.rglob("*")):
            if file.is_file():
                archive.write(file, Path(out.name) / file.relative_to(out))
    return out, card, buffer.getvalue()


def ferplus_agreement_words(config, split, probabilities) -> str | None:
    """How often the model agrees with FER+'s majority label on this split's faces, when a FER+ file
    is at hand (the ``ferplus_file`` setting, or ``<data_root>/ferplus/``) and names them; else None."""
    from fer_core.app.cache import ferplus_votes
    from fer_core.errors import DataError
    from fer_core.evaluation.metrics import ferplus_agreement
    from fer_core.evaluation.statistics import with_interval

    try:
        votes = ferplus_votes(config)
        if votes is None:
            return None
        result = ferplus_agreement(votes, split.files, probabilities)
    except DataError:
        return None  # not a FER+ file, or a dataset the FER+ file is not about: nothing to say
    per_class = ", ".join(f"{c} {v:.2f}" for c, v in result["recall_by_ferplus_class"].items() if v is not None)
    return (f"Against FER+ majority labels (ten annotators a face; {result['faces']:,} of these faces have one): "
            f"agreement {with_interval(result['agreement'], result['agreement_95'])}; by FER+ class {per_class}.")
