"""TTA and ensembles give exactly the average of their views or members, and ship as one file."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.runtime.ensemble import build_ensemble, save_ensemble
from fer_core.runtime.tta import tta_views, with_tta
from fer_core.runtime.loading import load_model
from fer_core.models import build_model
from fer_core.runtime.saving import save_inference_model


def tiny(seed: int, name: str = "reference"):
    import keras

    keras.utils.set_random_seed(seed)
    kwargs = {"reference": dict(filters=(4, 4, 4), dense_units=8), "resnet": dict(filters=(4, 8))}[name]
    return build_model(name, **kwargs)


def shifted(x: np.ndarray, dx: int, dy: int) -> np.ndarray:
    pad = max(abs(dx), abs(dy))
    padded = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)], mode="edge")
    return padded[:, pad - dy:pad - dy + 48, pad - dx:pad - dx + 48]


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 255, (5, 48, 48, 1)).astype("float32")


@pytest.mark.parametrize("mode, views", [("flip", 2), ("multicrop", 10)])
def test_tta_is_the_mean_over_views_by_hand(images, mode, views):
    model = tiny(1)
    by_hand = []
    for mirrored, dx, dy in tta_views(mode):
        x = images[:, :, ::-1] if mirrored else images
        by_hand.append(model.predict(shifted(x, dx, dy) if (dx or dy) else x, verbose=0))
    assert len(by_hand) == views
    got = with_tta(model, mode).predict(images, verbose=0)
    np.testing.assert_allclose(got, np.mean(by_hand, axis=0), rtol=1e-5, atol=1e-6)
    assert with_tta(model, "none") is model
    with pytest.raises(ValueError):
        tta_views("sideways")


def test_ensemble_file_is_the_mean_of_its_members_and_loads_in_safe_mode(images, tmp_path):
    members = [tiny(1), tiny(2), tiny(3, "resnet")]
    paths = []
    for k, model in enumerate(members):
        save_inference_model(model, tmp_path / f"m{k}.keras")
        paths.append(tmp_path / f"m{k}.keras")
    out = save_ensemble(paths, tmp_path / "ensemble.keras")
    loaded = load_model(out)
    by_hand = np.mean([m.predict(images, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), by_hand, rtol=1e-5, atol=1e-6)
    both = load_model(out, tta="flip").predict(images, verbose=0)
    flipped = np.mean([m.predict(images[:, :, ::-1], verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(both, (by_hand + flipped) / 2, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least two"):
        build_ensemble(members[:1])
