"""Every path and limit of FER Studio in one ``Settings``, from one set of sources.

Each field is set, lowest first, by: its default here < ``.streamlit/secrets.toml`` (the key is the
field's name) < the environment (``FER_`` + the name in capitals) < what the entry point passes
(a command-line flag such as ``--runs-dir``). ``Settings.load`` is the one reader: the dashboard,
the command line and the library's own defaults all call it, so Home, Predict and Results can no
longer disagree about where the runs are (they did when ``runs_dir`` was set only in
secrets.toml: Results promoted a model into that folder while Home looked in ./runs).

``python -m fer_core settings`` prints each value and where it came from. The secrets file is read
from the folder the server or command runs in, then ``~/.streamlit/secrets.toml`` (Streamlit's own
two places); one that does not parse is an error, never silently ignored.

Also here, because every entry point needs them: the checks that keep a user's path inside its
allowed folder, the dataset picker's list of candidates under the data folder, and the environment
of the ``python -m fer_core`` processes that jobs, tuning workers and exports start.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_core.errors import ConfigError, DataError, OutsideDataRootError

DATASET_SUFFIXES = (".zip", ".csv", ".ferpack")
PHOTO_SET_LABELS = "labels.csv"  # a labelled photo set's labels (fer_core.data.photo_files), not a dataset
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the folder that holds fer_core/, models/ and pages/
SECRETS_FILES = (Path(".streamlit") / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")


def _setting(default: Any, help: str, minimum: float | None = None) -> Any:
    return field(default=default, metadata={"help": help, "min": minimum})


def use_onednn() -> None:
    """TensorFlow turns its oneDNN kernels on only for some Intel CPUs; on this project's AMD EPYC
    machines turning them on doubles CPU training speed (docs/performance.md). It must be set
    before TensorFlow is imported, so the entry points call this first (``fer_core.cli.main``,
    ``fer_core.app.startup.start``); a user's own setting wins. Importing fer_core sets nothing."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def default_cache_dir() -> Path:
    """The cache folder when no ``cache_dir`` is set or handed down: ``$XDG_CACHE_HOME/fer_studio``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fer_studio"


@dataclass(frozen=True)
class Settings:
    """Where FER Studio keeps things and how much it takes at once (see the module docstring)."""

    runs_dir: Path = _setting(Path("runs"), "run folders, the run registry and a promoted default model")
    data_root: Path = _setting(Path("data"), "the only folder the dashboard reads datasets and photo folders from")
    cache_dir: Path = _setting(None, "decoded datasets, cached predictions and uploads (default: "
                                     "$XDG_CACHE_HOME/fer_studio, else ~/.cache/fer_studio)")
    default_model: Path | None = _setting(None, "the model 'default' names (default: a promoted run's model, else "
                                                "models/default.keras)")
    ferplus_file: Path | None = _setting(None, "FER+ votes for the dataset's images (Results: agreement with FER+ on "
                                               "PublicTest; default: <data_root>/ferplus/ferplus-train-publictest.csv "
                                               "if it exists)")
    corrections_dir: Path | None = _setting(None, "the faces whose class a user set on the Predict page, kept as a "
                                                  "labelled photo set (default: <data_root>/corrections)")
    replay_data: Path | None = _setting(None, "the FER2013 dataset adapt replays and measures PublicTest on (default: "
                                              "the first dataset under data_root named like fer2013, else the first)")
    max_jobs: int = _setting(1, "training and tuning jobs that run at once; the rest wait as queued", 1)
    # On a 2-core machine one at a time is fastest: two model calls would only share the cores.
    model_slots: int = _setting(1, "model calls (face detection and classification) the dashboard runs at once "
                                   "across all its users; the others wait their turn, in order", 1)
    max_photos: int = _setting(20, "photos one Predict request classifies; more wait for the next", 1)
    max_collection_photos: int = _setting(2000, "photos in one photo collection (a zip or a folder)", 1)
    cluster: str = _setting("", "a Dask cluster for photo collections and videos (predict --cluster, the Predict "
                                "page): local (a worker a core), local:N or tcp://HOST:PORT; empty: one process")
    cpu_threads: int = _setting(0, "CPU threads one model call uses in onnxruntime and BlazeFace (0: onnxruntime's "
                                   "one a core, BlazeFace's 2); a local cluster gives each worker cores / workers", 0)
    face_crops_whole: bool = _setting(True, "a small near-square photo (96-256 px a side) with no face found is "
                                            "answered whole, as the face crop it looks to be (off: no answer)")
    max_cluster_photos: int = _setting(1_000_000, "photos in one photo collection analysed on a cluster", 1)
    max_video_mb: float = _setting(500.0, "the largest video file accepted, in MB", 0)
    max_video_seconds: float = _setting(600.0, "the longest video accepted, in seconds", 0)
    zip_max_member_mb: float = _setting(40.0, "the largest file inside a zip, inflated, in MB (more: skipped)", 0)
    zip_max_total_mb: float = _setting(2048.0, "a whole zip, inflated, in MB (FER2013: 51 MB; more: refused)", 0)
    zip_max_members: int = _setting(500_000, "files in one zip (FER2013: 35,887; more: refused)", 1)
    webrtc_ice_servers: str = _setting("", "the live camera's ICE servers as JSON, e.g. "
                                           '[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}] '
                                           "(empty: none, enough on localhost and one network; across NAT a TURN server)")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, *, secrets: Mapping[str, Any] | None = None, secrets_file: str | os.PathLike | None = None,
             environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """The settings from every source (see the module docstring). ``secrets`` (a mapping, e.g.
        Streamlit's ``st.secrets``) replaces reading the file; ``overrides`` (None values ignored) are
        the entry point's flags. ``ConfigError`` for a value that is not a number, or out of range."""
        environ = os.environ if environ is None else environ
        if secrets is None:
            secrets = read_secrets(secrets_file)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for f in setting_fields():
            env = env_name(f.name)
            given = overrides.get(f.name)
            if given is not None:
                raw, where = given, "flag"
            elif environ.get(env):
                raw, where = environ[env], env
            elif secrets.get(f.name) not in (None, ""):
                raw, where = secrets[f.name], "secrets.toml"
            else:
                continue
            values[f.name] = _parse(f, raw, where)
            sources[f.name] = where
        unknown = set(overrides) - {f.name for f in setting_fields()}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings = cls(**values, sources=sources)
        return dataclasses.replace(settings, runs_dir=settings.runs_dir.absolute(),
                                   data_root=settings.data_root.absolute(),
                                   cache_dir=(settings.cache_dir or default_cache_dir()).absolute(),
                                   sources=sources)

    def ferplus_votes_file(self) -> Path | None:
        """The FER+ votes file: the setting, else the one shipped beside the datasets, if either exists."""
        for candidate in (self.ferplus_file, self.data_root / "ferplus" / "ferplus-train-publictest.csv"):
            if candidate is not None and Path(candidate).is_file():
                return Path(candidate)
        return None

    def corrections_folder(self) -> Path:
        """Where the Predict page keeps corrections: the setting, else ``<data_root>/corrections``."""
        return Path(self.corrections_dir) if self.corrections_dir else self.data_root / "corrections"

    def replay_dataset(self) -> Path | None:
        """The FER2013 dataset ``adapt`` replays (and measures PublicTest on): the setting, else the
        first dataset under the data folder whose name says fer2013, else the first; None if none."""
        if self.replay_data:
            return Path(self.replay_data)
        found = list_datasets(self.data_root)
        named = [f for f in found if "fer2013" in Path(f).name.lower()]
        return self.data_root / (named or found)[0] if found else None

    def ice_servers(self) -> list[dict[str, Any]]:
        """``webrtc_ice_servers`` parsed: a list of RTCIceServer objects (``urls``, ``username``,
        ``credential``); a ``ConfigError`` for anything else."""
        if not self.webrtc_ice_servers.strip():
            return []
        try:
            servers = json.loads(self.webrtc_ice_servers)
        except ValueError as exc:
            raise ConfigError(f"webrtc_ice_servers is not JSON ({exc})") from None
        if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
            raise ConfigError("webrtc_ice_servers must be a list of objects with 'urls'")
        return servers

    def describe(self) -> list[tuple[str, str, Any, str]]:
        """(setting, environment variable, value, where it came from) for each setting."""
        return [(f.name, env_name(f.name), getattr(self, f.name), self.sources.get(f.name, "default"))
                for f in setting_fields()]


def setting_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Settings) if f.name != "sources"]


def env_name(setting: str) -> str:
    return "FER_" + setting.upper()


def _parse(f: dataclasses.Field, raw: Any, where: str) -> Any:
    kind = {"int": int, "float": float}.get(str(f.type).split(" ")[0])
    if str(f.type) == "bool":
        words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() not in words:
            raise ConfigError(f"{f.name} ({where}) must be true or false, got '{raw}'")
        return words[str(raw).strip().lower()]
    if str(f.type) == "str":  # (secrets.toml may give a TOML table or array where JSON is meant)
        return raw if isinstance(raw, str) else json.dumps(raw)
    if kind is None:
        return Path(str(raw)).expanduser()
    try:
        value = kind(float(raw)) if kind is int and float(raw).is_integer() else kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{f.name} ({where}) must be {'a whole number' if kind is int else 'a number'}, "
                          f"got '{raw}'") from None
    minimum = f.metadata.get("min")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{f.name} ({where}) must be at least {minimum:g}, got {value:g}")
    return value


def read_secrets(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The first secrets file found (``path``, else Streamlit's two places), parsed; {} if none.
    A file that does not parse is a ``ConfigError`` naming it and the line."""
    for candidate in [Path(path)] if path else SECRETS_FILES:
        if not candidate.is_file():
            continue
        try:
            return tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{candidate}: not valid TOML ({exc})") from None
    return {}


def resolve_under_root(root: str | os.PathLike, relative: str) -> Path:
    """``root/relative``, refusing anything (``..``, absolute paths, symlinks) that leaves ``root``."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise OutsideDataRootError(f"'{relative}' is outside the data root {root}")
    if not candidate.exists():
        raise DataError(f"'{relative}' does not exist under the data root {root}")
    return candidate


def list_datasets(root: str | os.PathLike, max_depth: int = 3) -> list[str]:
    """Dataset candidates under ``root`` (zip and csv files, folders holding class or split
    folders), as paths relative to it, for a picker."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if depth >= max_depth:
            dirnames[:] = []
        names = {d.lower() for d in dirnames}
        if depth > 0 and (names & {"train", "test", "angry", "happy"}):
            found.append(str(here.relative_to(root)))
            dirnames[:] = []
            continue
        found.extend(str((here / f).relative_to(root)) for f in sorted(filenames)
                     if f.lower().endswith(DATASET_SUFFIXES) and f != PHOTO_SET_LABELS)
    return sorted(found)


def child_process_env(**overrides: str) -> dict[str, str]:
    """The environment for a ``python -m fer_core`` child process: this process's own, with the project
    first on PYTHONPATH (the child imports this fer_core whatever folder it starts in) and TensorFlow's
    start-up log lines quiet unless the user set ``TF_CPP_MIN_LOG_LEVEL``; ``overrides`` win."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(overrides)
    return env
