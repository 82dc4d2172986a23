"""The results table (docs/results.md; its first columns in the README), printed from the shipped
model cards (models/*.json).

Usage: python benchmarks/results_table.py [--models models]

Every figure is what ``python -m fer_core bundle`` measured on PublicTest (our ``val``) when it
wrote the card: accuracy and macro-F1 without TTA, and accuracy with flip and multicrop TTA.
Ensemble members that are not shipped on their own (runs) get a row from the ensemble's card.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core import CLASSES  # noqa: E402


def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=str(Path(__file__).resolve().parent.parent / "models"))
    args = parser.parse_args()
    cards = {path.stem: json.loads(path.read_text()) for path in sorted(Path(args.models).glob("*.json"))}
    print("| model | file | trained on | training | accuracy | + flip TTA | + multicrop TTA | macro-F1 | "
          + " | ".join(f"{c} recall" for c in CLASSES) + " |")
    print("|" + "---|" * (8 + len(CLASSES)))
    rows = []
    for name, card in cards.items():
        by_tta = card.get("publictest_accuracy_by_tta", {})
        metrics = card["publictest_metrics"]
        minutes = f"{card['training_seconds'] / 60:.0f} min" if card.get("training_seconds") else ""
        recalls = " | ".join(f"{metrics['per_class'][c]['recall']:.3f}" for c in CLASSES)
        hardware = (card.get("hardware") or "").split(" (")[0]
        rows.append(f"| {card.get('architecture')} | `models/{name}.keras` | {hardware} | {minutes} | "
                    f"{pct(metrics['accuracy'])} | {pct(by_tta.get('flip'))} | {pct(by_tta.get('multicrop'))} | "
                    f"{metrics['macro_f1']:.3f} | {recalls} |")
        for member in card.get("members", []):
            if (Path(args.models) / member["source"]).exists():
                continue  # shipped on its own: it has its own row
            member_tta = member["publictest_accuracy_by_tta"]
            minutes = f"{member['training_seconds'] / 60:.0f} min" if member.get("training_seconds") else ""
            rows.append(f"| {member.get('architecture')} (member of `{name}`, run `{member['source']}`) | | | "
                        f"{minutes} | {pct(member_tta['none'])} | {pct(member_tta['flip'])} | "
                        f"{pct(member_tta['multicrop'])} | | |" + " |" * (len(CLASSES) - 1))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
