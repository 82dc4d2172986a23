"""Carry a file too big for one device call in parts, over consecutive calls (docs/gpu.md).

The device tool carries at most 64 MiB a call, the tracked files included (22.7 MiB now). The
dataset pack (38.6 MiB) and the wheels (2.8 MiB) with them left half a MiB; in two parts, each
call carries the tree and half of the pack (and one of them the wheels), with 19 MiB or more to
spare. The machine keeps what earlier calls brought while it stays warm (30 s after a call), so
the second call joins the parts there.

Usage:
  python3 scripts/travel_parts.py split .gpu/fer2013.ferpack --parts 2   # here: .gpu/fer2013.ferpack.parts/
  python3 scripts/travel_parts.py join .gpu/fer2013.ferpack              # there: checks every part, writes the file

Standard library only: it runs on the bare GPU machine before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

MANIFEST = "manifest.json"
CHUNK = 1 << 20


class PartsError(Exception):
    """A part missing, cut short or altered: said in one line."""


def parts_dir(path: Path) -> Path:
    return path.with_name(path.name + ".parts")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def split(path: Path, parts: int) -> Path:
    """``path`` in ``parts`` files of nearly equal size, with a manifest of their sizes and hashes."""
    if parts < 1:
        raise PartsError("--parts must be at least 1")
    size = path.stat().st_size
    folder = parts_dir(path)
    folder.mkdir(exist_ok=True)
    for old in folder.glob("part*"):
        old.unlink()
    entries, step = [], -(-size // parts)
    with open(path, "rb") as source:
        for k in range(parts):
            name = f"part{k + 1}"
            data = source.read(step)
            (folder / name).write_bytes(data)
            entries.append({"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"file": path.name, "bytes": size, "sha256": _sha256(path), "parts": entries}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return folder


def join(path: Path) -> Path:
    """Check every part against the manifest, then write ``path`` (atomically) and check it whole."""
    folder = parts_dir(path)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        raise PartsError(f"no readable {folder / MANIFEST}: carry it with the first part") from None
    missing = [e["name"] for e in manifest["parts"] if not (folder / e["name"]).is_file()]
    if missing:
        raise PartsError(f"{', '.join(missing)} of {manifest['file']} not here: the machine was given back between "
                         f"calls, or a call did not carry it; carry the missing part(s) again")
    for entry in manifest["parts"]:
        part = folder / entry["name"]
        if part.stat().st_size != entry["bytes"] or _sha256(part) != entry["sha256"]:
            raise PartsError(f"{part}: not the part the manifest names (size or SHA-256 differs); carry it again")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.joining")
    try:
        with open(tmp, "wb") as out:
            for entry in manifest["parts"]:
                with open(folder / entry["name"], "rb") as part:
                    while chunk := part.read(CHUNK):
                        out.write(chunk)
        if _sha256(tmp) != manifest["sha256"]:
            raise PartsError(f"{path.name}: the joined file does not match the manifest's SHA-256")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    split_parser = sub.add_parser("split", help="write FILE.parts/ (the parts and their manifest)")
    split_parser.add_argument("file", type=Path)
    split_parser.add_argument("--parts", type=int, default=2)
    join_parser = sub.add_parser("join", help="check FILE.parts/ and write FILE")
    join_parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "split":
            folder = split(args.file, args.parts)
            print(f"wrote {folder}: " + ", ".join(f"{p.name} {p.stat().st_size / 2**20:.1f} MiB"
                                                  for p in sorted(folder.glob("part*"))))
        else:
            print(f"joined {join(args.file)} ({args.file.stat().st_size / 2**20:.1f} MiB, SHA-256 checked)")
    except (PartsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
