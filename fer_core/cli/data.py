"""Dataset commands: data (load, fill the cache, print the splits and duplicates) and pack."""

from __future__ import annotations

import argparse

from fer_core.errors import ConfigError
from fer_core.settings import Settings


def cmd_pack(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.data.loaders import load_dataset
    from fer_core.data.pack import pack_dataset
    from fer_core.data.packfile import PACK_SUFFIX

    if not args.out.endswith(PACK_SUFFIX):
        raise ConfigError(f"--out must end in {PACK_SUFFIX}")
    summary = pack_dataset(args.data, args.out, splits=args.splits)
    print(f"wrote {args.out}: {summary['images']} images, {summary['file_bytes'] / 1e6:.1f} MB "
          f"({summary['sharing_header']} share one {summary['shared_header_bytes']}-byte JPEG header)")
    for name, split in load_dataset(args.out, use_cache=False).splits.items():
        print(f"  {name}: {len(split)} images  {split.class_counts()}")
    return 0


def cmd_data(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.data.dataset import LoadOptions
    from fer_core.data.loaders import load_dataset

    dataset = load_dataset(args.data, LoadOptions(strict=args.strict, detect_faces=args.detect_faces))
    for name, split in dataset.splits.items():
        print(f"{name}: {len(split)} images  {split.class_counts()}")
    print(dataset.report.summary())
    if args.duplicates:
        from fer_core.data.stats import find_duplicates

        report = find_duplicates(dataset)
        conflicting = sum(1 for g in report.groups if g.conflicting_labels)
        print(f"duplicates: {len(report.groups)} groups of identical images, {conflicting} with conflicting labels")
        for row in report.summary_table().itertuples():
            print(f"  {row.where}: {row.images}")
        for pair, count in report.leaks.items():
            print(f"  LEAK: {count} {pair.split('/')[1]} images have an exact copy in {pair.split('/')[0]}")
    return 0
