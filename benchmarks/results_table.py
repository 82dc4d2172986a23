"""The results table (docs/results.md; its first columns in the README), printed from the shipped
model cards (models/*.json).

Usage: python benchmarks/results_table.py [--models models]

Every figure is what ``python -m fer_core bundle`` measured on PublicTest (our ``val``) when it
wrote the card: accuracy and macro-F1 without TTA, and accuracy with flip and multicrop TTA.
Ensemble members that are not shipped on their own (runs) get a row from the ensemble's card.
95% intervals (``fer_core.evaluation.statistics``) come from each card's confusion matrix. The
accuracy "without copies" (the PublicTest faces with no exact or near copy in Training) is the
card's when it has one, else measured here by running the model (no TTA) on ``--data``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core import CLASSES  # noqa: E402
from fer_core.evaluation.statistics import metric_intervals, with_interval  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.zip"


def without_copies(card: dict, model_file: Path, data: Path) -> str:
    clean = card["publictest_metrics"].get("without_copies")
    if clean is None and data.exists():
        from fer_core.data.loaders import load_dataset
        from fer_core.data.stats import held_out_copies
        from fer_core.evaluation.metrics import metrics_without_copies
        from fer_core.runtime.loading import load_model
        from fer_core.runtime.model import predict_probabilities

        dataset = load_dataset(data)
        val = dataset.split("val")
        probabilities = predict_probabilities(load_model(model_file), val.images)
        clean = metrics_without_copies(val.labels, probabilities, "val", held_out_copies(dataset, "val"))
    if clean is None:
        return ""
    return f"{with_interval(clean['accuracy'], metric_intervals(clean['confusion_matrix'])['accuracy'])} (n={clean['n']:,})"


def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=str(Path(__file__).resolve().parent.parent / "models"))
    parser.add_argument("--data", default=str(DATA), help="for the figures without copies a card lacks")
    args = parser.parse_args()
    cards = {path.stem: json.loads(path.read_text()) for path in sorted(Path(args.models).glob("*.json"))}
    print("| model | file | trained on | training | accuracy (95% interval) | without copies | + flip TTA | "
          "+ multicrop TTA | macro-F1 | " + " | ".join(f"{c} recall" for c in CLASSES) + " |")
    print("|" + "---|" * (9 + len(CLASSES)))
    rows = []
    for name, card in cards.items():
        by_tta = card.get("publictest_accuracy_by_tta", {})
        metrics = card["publictest_metrics"]
        minutes = f"{card['training_seconds'] / 60:.0f} min" if card.get("training_seconds") else ""
        intervals = metric_intervals(metrics["confusion_matrix"])
        recalls = " | ".join(with_interval(metrics["per_class"][c]["recall"], intervals["per_class"][c]["recall"],
                                           percent=False) for c in CLASSES)
        hardware = (card.get("hardware") or "").split(" (")[0]
        rows.append(f"| {card.get('architecture')} | `models/{name}.keras` | {hardware} | {minutes} | "
                    f"{with_interval(metrics['accuracy'], intervals['accuracy'])} | "
                    f"{without_copies(card, Path(args.models) / f'{name}.keras', Path(args.data))} | "
                    f"{pct(by_tta.get('flip'))} | {pct(by_tta.get('multicrop'))} | "
                    f"{with_interval(metrics['macro_f1'], intervals['macro_f1'], percent=False)} | {recalls} |")
        for member in card.get("members", []):
            if (Path(args.models) / member["source"]).exists():
                continue  # shipped on its own: it has its own row
            member_tta = member["publictest_accuracy_by_tta"]
            minutes = f"{member['training_seconds'] / 60:.0f} min" if member.get("training_seconds") else ""
            rows.append(f"| {member.get('architecture')} (member of `{name}`, run `{member['source']}`) | | | "
                        f"{minutes} | {pct(member_tta['none'])} | | {pct(member_tta['flip'])} | "
                        f"{pct(member_tta['multicrop'])} | | |" + " |" * (len(CLASSES) - 1))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
