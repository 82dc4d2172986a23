"""What travels to a GPU machine (docs/gpu.md): the tracked files, the dataset pack and the wheels
in .gpu/, against the device tool's 64 MiB a call. Prints each part and the margin left: all in one
call, and in the two-call plan (the pack in two parts, scripts/travel_parts.py: call 1 carries the
wheels and part 1, call 2 part 2; the tracked files travel with both).

Usage: python scripts/travel_size.py [--limit-mib 64]
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tracked_bytes() -> int:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        raise SystemExit(f"error: {ROOT} is not a git checkout: the tracked files are what travels, and git lists them")
    names = listed.stdout.split(b"\0")
    return sum((ROOT / n.decode()).stat().st_size for n in names if n and (ROOT / n.decode()).is_file())


def folder_bytes(path: Path) -> int:
    """A file's size, or a folder's files' (0 when absent)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mib", type=float, default=64.0)
    args = parser.parse_args()
    parts = {"tracked files": tracked_bytes(), ".gpu/fer2013.ferpack": folder_bytes(ROOT / ".gpu" / "fer2013.ferpack"),
             ".gpu/wheels": folder_bytes(ROOT / ".gpu" / "wheels")}
    for name, size in parts.items():
        print(f"{name:22s} {size / 2**20:7.1f} MiB" + ("  (not prepared: scripts/gpu_prepare.sh)" if not size and
                                                       name != "tracked files" else ""))
    total = sum(parts.values())
    print(f"{'total':22s} {total / 2**20:7.1f} MiB of {args.limit_mib:g} MiB: "
          f"{args.limit_mib - total / 2**20:.1f} MiB to spare")
    pieces = sorted((ROOT / ".gpu" / "fer2013.ferpack.parts").glob("part*"))
    if pieces:
        print(f"in {len(pieces)} calls (scripts/travel_parts.py):")
        for k, piece in enumerate(pieces):
            carried = parts["tracked files"] + piece.stat().st_size + (parts[".gpu/wheels"] if k == 0 else 0) + (
                (piece.parent / "manifest.json").stat().st_size if k == 0 else 0)
            what = "tracked files + wheels + manifest + " if k == 0 else "tracked files + "
            print(f"  call {k + 1}: {what}{piece.name} = {carried / 2**20:.1f} MiB: "
                  f"{args.limit_mib - carried / 2**20:.1f} MiB to spare")


if __name__ == "__main__":
    main()
