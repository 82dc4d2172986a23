"""A model measured on labelled whole photos: class folders or a labels file, misses counted, bad
input refused in one line; the command line and the Results page's "Your photos" tab."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from PIL import Image

from fer_core.errors import DataError
from fer_core.answering.spec import AnswerSpec
from fer_core.evaluation.photo_evaluation import evaluate_photos, write_photo_report
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, app_page, jpeg_bytes, needs_photos

LABELS = REPO_ROOT / "docs" / "labels" / "shared_photos.csv"
HAPPY = ["fr_obama.jpg", "df_img15.jpg", "df_img22.jpg"]
NEUTRAL = ["df_img10.jpg", "df_img13.jpg"]


@pytest.fixture(scope="module")
def spec() -> AnswerSpec:
    return AnswerSpec.resolve("quick", tta="none")


@pytest.fixture(scope="module")
def model(spec):
    return spec.load()


def class_folders(root, extra: dict[str, bytes] | None = None):
    for label, names in (("happy", HAPPY), ("neutrality", NEUTRAL)):  # a synonym names a class too
        (root / label).mkdir(parents=True)
        for name in names:
            shutil.copy(SHARED_PHOTOS / name, root / label / name)
    for name, data in (extra or {}).items():
        (root / name).write_bytes(data)
    return root


@needs_photos
def test_class_folders_of_photos_give_figures_misses_and_pictures(model, spec, tmp_path, monkeypatch):
    import fer_core.media.photos as photos

    grey = jpeg_bytes(Image.new("RGB", (320, 240), (128, 128, 128)))
    root = class_folders(tmp_path / "photos", {"happy/blank.jpg": grey, "happy/broken.jpg": b"\xff\xd8not a jpeg",
                                                "notes.txt": b"x"})
    decodings, decode = [], photos.decode_photo
    monkeypatch.setattr(photos, "decode_photo", lambda data: decodings.append(len(data)) or decode(data))
    evaluation = evaluate_photos(model, root, also_detectors=("haar", "blazeface"))
    assert len(decodings) == 7  # each labelled photo once (the broken one too), for the model and both detectors
    summary = write_photo_report(evaluation, tmp_path / "out")
    assert summary["labelled_photos"] == 6 and summary["faces_found"] == 5  # the broken one is skipped
    found_by = summary["found_by_detector"]
    assert list(found_by) == ["blazeface", "haar"] and found_by["blazeface"]["found"] == 5
    assert found_by["haar"]["found"] <= 5 and found_by["haar"]["share_95"][0] <= found_by["haar"]["share"]
    # two classes present: macro-F1 over them, not over all seven (absent ones would count as 0)
    assert summary["classes_present"] == ["happy", "neutral"]
    f1 = [summary["per_class"][c]["f1"] for c in ("happy", "neutral")]
    assert summary["macro_f1_present"] == pytest.approx(sum(f1) / 2)
    assert summary["macro_f1"] == pytest.approx(sum(f1) / 7)
    assert summary["missed"] == ["happy/blank.jpg"] and summary["found_share_95"][1] < 1.0
    assert summary["n"] == 5 and summary["per_class"]["happy"]["support"] == 3
    low, high = summary["intervals"]["accuracy"]
    assert summary["per_class"]["neutral"]["support"] == 2 and low <= summary["accuracy"] <= high
    assert {s[0] for s in evaluation.skipped} == {"happy/broken.jpg", "notes.txt"}
    rows = list(csv.DictReader((tmp_path / "out" / "predictions.csv").open()))
    assert len(rows) == 6 and {r["file"] for r in rows if not r["predicted"]} == {"happy/blank.jpg"}
    assert Image.open(tmp_path / "out" / "misclassified.png").width > 0
    assert all(a.predicted != a.label for a in evaluation.mistakes())


@needs_photos
def test_a_labels_file_labels_a_flat_folder_and_marks_ambiguous_ones(model, spec):
    evaluation = evaluate_photos(model, SHARED_PHOTOS, labels_file=LABELS)
    summary = evaluation.summary()
    assert summary["labelled_photos"] == 39 and summary["faces_found"] == 39  # every shared photo has a face
    assert summary["clear_only"]["n"] == 39 - 9  # the nine marked ambiguous
    assert {s[0] for s in evaluation.skipped} == {"MANIFEST.tsv", "README.md"}


@needs_photos
def test_a_zip_with_its_own_labels_file(model, spec):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in HAPPY:
            archive.write(SHARED_PHOTOS / name, f"set/{name}")
        archive.writestr("set/labels.csv", "file,label,ambiguous\n" + "".join(f"{n},happy,no\n" for n in HAPPY))
    buffer.seek(0)
    assert evaluate_photos(model, buffer, name="set.zip").summary()["n"] == 3


@needs_photos
def test_bad_photo_sets_are_refused_in_one_line(model, spec, tmp_path):
    typo = class_folders(tmp_path / "typo")
    (typo / "happy").rename(typo / "hapy")
    with pytest.raises(DataError, match="class folder 'hapy' names no class"):
        evaluate_photos(model, typo)
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(SHARED_PHOTOS / "fr_obama.jpg", flat / "a.jpg")
    with pytest.raises(DataError, match="no labelled photo"):
        evaluate_photos(model, flat)
    (tmp_path / "labels.csv").write_text("file,label\nb.jpg,happy\n")
    with pytest.raises(DataError, match="names 1 photo.s. the set does not have: b.jpg"):
        evaluate_photos(model, flat, labels_file=tmp_path / "labels.csv")
    (tmp_path / "labels.csv").write_text("file,label\na.jpg,smug\n")
    with pytest.raises(DataError, match="line 2: 'smug' is not a class"):
        evaluate_photos(model, flat, labels_file=tmp_path / "labels.csv")
    (tmp_path / "labels.csv").write_text("name,class\na.jpg,happy\n")
    with pytest.raises(DataError, match="columns file and label"):
        evaluate_photos(model, flat, labels_file=tmp_path / "labels.csv")
    blank = tmp_path / "blank" / "sad"
    blank.mkdir(parents=True)
    (blank / "grey.jpg").write_bytes(jpeg_bytes(Image.new("RGB", (320, 240), (128, 128, 128))))
    with pytest.raises(DataError, match="no face found in any of the 1 labelled photos"):
        evaluate_photos(model, blank.parent).summary()


@needs_photos
@pytest.mark.slow
def test_evaluate_on_photos_from_the_command_line(tmp_path):
    root = class_folders(tmp_path / "photos")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    ran = subprocess.run([sys.executable, "-m", "fer_core", "evaluate", "--data", str(root), "--detector", "blazeface",
                          "--model", "quick", "--tta", "none", "--out", str(tmp_path / "out")], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "faces found in 5 of 5 labelled photos" in ran.stdout and (tmp_path / "out" / "metrics.json").exists()
    assert "macro_f1 over the 2 classes present (happy, neutral)" in ran.stdout
    (root / "neutrality").rename(root / "meh")
    bad = subprocess.run([sys.executable, "-m", "fer_core", "evaluate", "--data", str(root), "--detector", "haar",
                          "--model", "quick", "--out", str(tmp_path / "out2")], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == (
        "error: class folder 'meh' names no class (expected angry, disgust, fear, happy, sad, surprise, neutral or "
        "a synonym)")


@needs_photos
def test_the_results_page_measures_a_folder_of_labelled_photos(dashboard_env):
    class_folders(dashboard_env["data_root"] / "my_photos")
    at = app_page("pages/3_Results.py").run(timeout=300)
    at.radio(key="photos_source").set_value("A folder under the data folder").run(timeout=300)
    at.selectbox(key="photos_folder").set_value("my_photos").run(timeout=300)
    at.selectbox(key="photos_model").set_value(next(o for o in at.selectbox(key="photos_model").options
                                                    if "quick" in o)).run(timeout=300)
    at.multiselect(key="photos_also_detectors").set_value(["haar"]).run(timeout=300)
    at.button(key="photos_evaluate").click().run(timeout=300)
    assert not at.exception and not at.error
    shares = next(d.value for d in at.dataframe if "photos with a face" in d.value.columns)
    assert list(shares["detector"]) == ["blazeface", "haar"] and shares["photos with a face"][0] == 5
    found = next(m for m in at.metric if m.label == "Photos with a face found")
    assert found.value == "100.00%"
    assert any(m.label == "Accuracy (photos answered)" for m in at.metric)
    assert {b.proto.label for b in at.get("download_button")} >= {"Download the figures (JSON)",
                                                                   "Download a row a photo (CSV)"}


@needs_photos
def test_a_predictions_csv_with_some_labels_filled_in_is_a_labels_file_face_by_face(model, tmp_path):
    from fer_core.media.collections import analyze_collection

    folder = tmp_path / "party"
    folder.mkdir()
    for name in ("df_couple.jpg", "fr_obama.jpg", "df_img10.jpg"):
        shutil.copy(SHARED_PHOTOS / name, folder / name)
    table = analyze_collection(model, folder).table()
    assert "label" in table.columns and table["label"].isna().all()  # for the user to fill in
    couple = table[(table["file"] == "df_couple.jpg") & table["face"].notna()]
    assert len(couple) >= 2
    table.loc[couple.index[0], "label"] = "sad"
    table.loc[couple.index[1], "label"] = "surprise"
    table.loc[table["file"] == "fr_obama.jpg", "label"] = "happy"  # df_img10.jpg left without a label
    labels = tmp_path / "predictions.csv"
    table.to_csv(labels, index=False)
    evaluation = evaluate_photos(model, folder, labels_file=labels)
    answers = sorted(evaluation.answers, key=lambda a: (a.name, a.label))
    assert [(a.name, a.label) for a in answers] == [("df_couple.jpg", 4), ("df_couple.jpg", 5), ("fr_obama.jpg", 3)]
    for answer in answers[:2]:  # each label went to the face at its box, not to the largest face twice
        row = table.loc[couple.index[0 if answer.label == 4 else 1]]
        assert (answer.face.box.x, answer.face.box.y) == (row["x"], row["y"])
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label,x,y,width,height\nfr_obama.jpg,happy,a,1,2,3\n")
    with pytest.raises(DataError, match="bad.csv, line 2: face box a,1,2,3 is not four numbers"):
        evaluate_photos(model, folder, labels_file=bad)
