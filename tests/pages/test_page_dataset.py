"""The Dataset page through AppTest: choose, upload, counts, samples, histograms, duplicates."""

from __future__ import annotations

import shutil

from tests.conftest import app_page, write_fer_csv


def plotly_count(at) -> int:
    return len(at.get("plotly_chart"))


def test_choose_a_dataset_from_the_data_folder(dashboard_env):
    at = app_page("pages/1_Dataset.py").run()
    assert not at.exception
    # The only dataset in the folder is picked without a click.
    assert at.selectbox[0].options == ["fer_small"] and at.selectbox[0].value == "fer_small"
    assert not at.exception and not at.error
    assert "train: 84, val: 28" in at.success[0].value
    counts = at.dataframe[0].value
    assert counts.loc["happy", "train"] == 12 and counts.loc["happy", "val"] == 4
    assert plotly_count(at) == 2  # class counts and pixel histograms
    assert [tab.label for tab in at.tabs] == ["Classes", "Samples", "Pixel intensities", "Duplicates", "FER+"]
    assert len(at.image) == 1  # the sample grid (one element holding the page of faces)
    at.number_input(key="sample_page").set_value(1).run()
    assert not at.exception


def test_a_leak_between_train_and_val_is_shown(dashboard_env):
    dataset = dashboard_env["dataset"]
    leaked = next((dataset / "train" / "happy").iterdir())
    shutil.copy(leaked, dataset / "test" / "happy" / "PublicTest_copy.jpg")
    at = app_page("pages/1_Dataset.py").run()
    at.selectbox[0].set_value("fer_small").run()
    assert not at.exception
    assert any("Leak: 1 val images have an exact copy in train" in e.value for e in at.error)


def test_upload_a_csv_and_a_broken_file(dashboard_env, tmp_path):
    csv_path = write_fer_csv(tmp_path / "fer2013.csv", {"Training": 21, "PublicTest": 7},
                             extra_rows=[["9", "1 2 3", "Training"]])
    at = app_page("pages/1_Dataset.py").run()
    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].set_value(("fer2013.csv", csv_path.read_bytes(), "text/csv")).run()
    assert not at.exception
    assert "train: 21, val: 7" in at.success[0].value
    assert any("skipped 1 bad item" in e.label for e in at.expander)

    at = app_page("pages/1_Dataset.py").run()
    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].set_value(("broken.zip", b"PK\x03\x04 this is not really a zip", "application/zip")).run()
    assert not at.exception
    assert at.error and "Could not load" in at.error[0].value


def test_empty_data_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DATA_ROOT", str(tmp_path / "empty"))
    at = app_page("pages/1_Dataset.py").run()
    assert not at.exception and "No datasets under the data folder" in at.info[0].value
