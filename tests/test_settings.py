"""Settings from the environment and the data-folder fence."""

from __future__ import annotations

import pytest

from fer_core.settings import OutsideDataRootError, Settings, list_datasets, resolve_under_root


def test_environment_wins_over_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA_ROOT", str(tmp_path / "env"))
    settings = Settings.from_env({"data_root": "/secret", "max_jobs": 3})
    assert settings.data_root == tmp_path / "env" and settings.max_jobs == 3


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
    with pytest.raises(FileNotFoundError):
        resolve_under_root(root, "nothing.zip")


def test_list_datasets_finds_files_and_folders(tmp_path, kaggle_folder):
    root = kaggle_folder.parent
    (root / "fer2013.csv").write_text("")
    (root / "notes.txt").write_text("")
    assert list_datasets(root) == ["fer", "fer2013.csv"]
    assert list_datasets(tmp_path / "missing") == []
