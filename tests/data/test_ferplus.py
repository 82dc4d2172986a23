"""FER+ votes as labels: the majority rule, soft targets, matching to the dataset's files, bad files,
the published agreement figures reproduced on the shared zip, and a run trained on them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_core.data.ferplus import (VOTE_COLUMNS, FerPlusVotes, agreement, ferplus_targets, majority, read_ferplus,
                                   seven_class_votes)
from fer_core.errors import ConfigError, DataError
from fer_core.labels import CLASSES
from tests.conftest import REPO_ROOT, SHARED_ZIP, TINY_TRAIN_CONFIG, needs_fer2013

FERPLUS = REPO_ROOT.parent / "shared" / "datasets" / "ferplus" / "ferplus-train-publictest.csv"


def counts(**votes) -> np.ndarray:
    return np.array([float(votes.get(c, 0)) for c in VOTE_COLUMNS])


def test_the_majority_rule_and_the_soft_targets():
    rows = np.stack([counts(happiness=6, neutral=3, surprise=1),  # single votes dropped: 6 of 9 -> happy
                     counts(neutral=4, sadness=4, fear=2),  # no majority
                     counts(NF=8, neutral=2),  # not a face
                     counts(contempt=6, neutral=4),  # a majority of no FER2013 class
                     counts(fear=5, surprise=5)])  # a tie is no majority
    assert majority(rows).tolist() == [CLASSES.index("happy"), -1, -1, -1, -1]
    assert seven_class_votes(rows[:1]).tolist() == [[0, 0, 0, 6, 0, 1, 3]]  # FER2013's class order
    votes = FerPlusVotes({f"{k}.jpg": row for k, row in enumerate(rows)})
    files = [f"train/x/{k}.jpg" for k in range(len(rows))]
    soft, kept = ferplus_targets(votes, files, "ferplus-soft", "train")
    assert kept.tolist() == [True, True, True, True, True]  # the NF row still has two neutral votes
    assert np.allclose(soft.sum(axis=1), 1) and soft[0, CLASSES.index("happy")] == pytest.approx(0.6)
    hard, kept = ferplus_targets(votes, files, "ferplus-majority", "train")
    assert kept.tolist() == [True, False, False, False, False] and hard[0].tolist() == np.eye(7)[3].tolist()
    with pytest.raises(DataError, match="names 0 of the 3 train images: it does not match this dataset"):
        ferplus_targets(votes, ["other/a.jpg", "other/b.jpg", "other/c.jpg"], "ferplus-soft", "train")
    with pytest.raises(ConfigError, match="labels must be one of"):
        ferplus_targets(votes, files, "fer2013", "train")


def test_a_file_that_is_not_a_ferplus_file_is_refused(tmp_path):
    (tmp_path / "bad.csv").write_text("path,label\na.jpg,happy\n")
    with pytest.raises(DataError, match="not a FER\\+ votes file"):
        read_ferplus(tmp_path / "bad.csv")
    (tmp_path / "nan.csv").write_text("path," + ",".join(VOTE_COLUMNS) + "\na.jpg," + ",".join(["x"] * 10) + "\n")
    with pytest.raises(DataError, match="not a number"):
        read_ferplus(tmp_path / "nan.csv")
    with pytest.raises(DataError, match="cannot read the FER\\+ file"):
        read_ferplus(tmp_path / "missing.csv")


@needs_fer2013
@pytest.mark.skipif(not FERPLUS.exists(), reason="no FER+ file in ../shared")
@pytest.mark.slow
def test_the_shared_file_matches_the_zip_as_its_readme_says(fer2013_cache):
    from fer_core.data.loaders import load_dataset

    val = load_dataset(SHARED_ZIP, cache_dir=fer2013_cache).split("val")
    result = agreement(read_ferplus(FERPLUS), val.files, val.labels)
    assert (result["faces"], round(result["agreement"] * result["faces"])) == (3184, 2135)  # its README: 67.1%


@needs_fer2013
@pytest.mark.skipif(not FERPLUS.exists(), reason="no FER+ file in ../shared")
@pytest.mark.slow
def test_a_run_trains_on_ferplus_soft_labels_and_says_so(fer2013_cache, tmp_path, monkeypatch):
    from fer_core.training.config import TrainConfig
    from fer_core.training.train import train

    monkeypatch.setenv("FER_CACHE_DIR", str(fer2013_cache))
    with pytest.raises(ConfigError, match="needs --ferplus CSV"):
        train(TrainConfig(data=str(SHARED_ZIP), labels="ferplus-soft", epochs=1, data_fraction=0.02,
                          **TINY_TRAIN_CONFIG), tmp_path / "runs")
    run = train(TrainConfig(data=str(SHARED_ZIP), labels="ferplus-soft", ferplus=str(FERPLUS), epochs=1,
                            data_fraction=0.02, **TINY_TRAIN_CONFIG), tmp_path / "runs")
    config = json.loads((run / "config.json").read_text())
    assert config["labels"] == "ferplus-soft" and config["ferplus"] == str(FERPLUS)
    assert json.loads((run / "metrics.json").read_text())["n"] == 3589  # val keeps FER2013's labels
    assert "have a FER+ target" in (run / "train.log").read_text()
