"""One Settings from every source (defaults < secrets.toml < environment < flags), and the
data-folder fence."""

from __future__ import annotations

import pytest

from fer_core.errors import ConfigError, DataError, OutsideDataRootError
from fer_core.settings import Settings, list_datasets, resolve_under_root, setting_fields

NO_ENV: dict[str, str] = {}


def write_secrets(folder, text: str):
    path = folder / ".streamlit" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_set(tmp_path):
    settings = Settings.load(secrets={}, environ=NO_ENV)
    assert settings.max_jobs == 1 and settings.model_slots == 1 and settings.max_photos == 20
    assert settings.zip_max_members == 500_000 and settings.max_video_seconds == 600.0
    assert settings.default_model is None and settings.runs_dir.is_absolute() and settings.cache_dir.is_absolute()
    assert {source for *_, source in settings.describe()} == {"default"}


def test_secrets_file_sets_values(tmp_path):
    path = write_secrets(tmp_path, 'runs_dir = "/srv/runs"\nmax_jobs = 3\nmax_video_mb = 12.5\n')
    settings = Settings.load(secrets_file=path, environ=NO_ENV)
    assert str(settings.runs_dir) == "/srv/runs" and settings.max_jobs == 3 and settings.max_video_mb == 12.5
    assert settings.sources["runs_dir"] == "secrets.toml"


def test_environment_wins_over_secrets(tmp_path):
    settings = Settings.load(secrets={"data_root": "/secret", "max_jobs": 3},
                             environ={"FER_DATA_ROOT": str(tmp_path / "env")})
    assert settings.data_root == tmp_path / "env" and settings.max_jobs == 3
    assert settings.sources["data_root"] == "FER_DATA_ROOT"


def test_flags_win_over_the_environment(tmp_path):
    settings = Settings.load(secrets={}, environ={"FER_RUNS_DIR": "/env/runs"}, runs_dir=tmp_path / "flag",
                             max_jobs=None)
    assert settings.runs_dir == tmp_path / "flag" and settings.sources["runs_dir"] == "flag"
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(secrets={}, environ=NO_ENV, run_dir="x")


def test_every_setting_has_an_environment_variable_and_help():
    for f in setting_fields():
        assert f.metadata["help"]
        value = {"int": "7", "float": "7", "str": "[]", "bool": "false"}.get(f.type, "/tmp/x")
        assert getattr(Settings.load(secrets={}, environ={"FER_" + f.name.upper(): value}), f.name) is not None


def test_bad_values_are_refused_in_one_sentence():
    with pytest.raises(ConfigError, match=r"max_jobs \(FER_MAX_JOBS\) must be a whole number, got 'many'"):
        Settings.load(secrets={}, environ={"FER_MAX_JOBS": "many"})
    with pytest.raises(ConfigError, match=r"model_slots \(secrets.toml\) must be at least 1, got 0"):
        Settings.load(secrets={"model_slots": 0}, environ=NO_ENV)


def test_a_broken_secrets_file_is_an_error_not_ignored(tmp_path):
    path = write_secrets(tmp_path, "runs_dir = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(secrets_file=path, environ=NO_ENV)


def test_runs_dir_in_secrets_only_is_where_every_page_looks(tmp_path, monkeypatch):
    """The bug this Settings fixed: with runs_dir set only in secrets.toml, Results promoted a model
    into that folder while Home and Predict (default_model_path) looked in ./runs."""
    from fer_core.runtime.loading import bundled_model_path, default_model_path, promoted_model_path

    runs = tmp_path / "secret-runs"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER_RUNS_DIR", raising=False)
    monkeypatch.delenv("FER_DEFAULT_MODEL", raising=False)
    write_secrets(tmp_path, f'runs_dir = "{runs}"\n')
    assert Settings.load().runs_dir == runs
    assert default_model_path(Settings.load()) == bundled_model_path()
    promoted = promoted_model_path(Settings.load().runs_dir)  # where Results promotes to
    promoted.parent.mkdir(parents=True)
    promoted.write_bytes(b"a promoted model")
    assert default_model_path(Settings.load()) == promoted  # where Home and Predict look (handed their settings)


def test_paths_cannot_leave_the_data_root(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    (tmp_path / "secret.csv").write_text("x")
    (root / "link.csv").symlink_to(tmp_path / "secret.csv")
    assert resolve_under_root(root, "sub/fer2013.csv") == (root / "sub" / "fer2013.csv").resolve()
    for escape in ("../secret.csv", str(tmp_path / "secret.csv"), "link.csv", "sub/../../secret.csv"):
        with pytest.raises(OutsideDataRootError):
            resolve_under_root(root, escape)
    with pytest.raises(DataError, match="does not exist"):
        resolve_under_root(root, "nothing.zip")


def test_list_datasets_finds_files_and_folders(tmp_path, kaggle_folder):
    root = kaggle_folder.parent
    (root / "fer2013.csv").write_text("")
    (root / "notes.txt").write_text("")
    assert list_datasets(root) == ["fer", "fer2013.csv"]
    assert list_datasets(tmp_path / "missing") == []


def test_ice_servers_for_the_live_camera():
    assert Settings.load(secrets={}, environ=NO_ENV).ice_servers() == []
    turn = [{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]
    assert Settings.load(secrets={"webrtc_ice_servers": turn}, environ=NO_ENV).ice_servers() == turn
    with pytest.raises(ConfigError, match="not JSON"):
        Settings.load(secrets={}, environ={"FER_WEBRTC_ICE_SERVERS": "turn:x"}).ice_servers()
