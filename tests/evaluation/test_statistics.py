"""Intervals that cover what they claim, McNemar against a case worked by hand, paired comparisons."""

from __future__ import annotations

import pytest

import numpy as np

from fer_core.evaluation.statistics import (mcnemar_exact, metric_intervals, pairs_from_confusion, paired_comparison,
                                           wilson, with_interval)


def test_wilson_intervals_cover_the_true_accuracy_95_times_in_100():
    rng = np.random.default_rng(0)
    true_accuracy, faces = 0.71, 496  # fear's support on PublicTest
    hits = 0
    for _ in range(1000):
        low, high = wilson(int((rng.random(faces) < true_accuracy).sum()), faces)
        hits += low <= true_accuracy <= high
    assert 0.93 <= hits / 1000 <= 0.97


@pytest.mark.slow
def test_bootstrap_f1_intervals_cover_the_population_f1_about_95_times_in_100():
    rng = np.random.default_rng(1)
    confusion_of_population = np.array([[60, 10, 10, 5, 5, 5, 5], [5, 20, 5, 2, 2, 2, 2], [10, 5, 50, 5, 10, 10, 10],
                                        [3, 1, 3, 160, 5, 5, 10], [10, 2, 10, 5, 90, 3, 20], [2, 1, 8, 5, 2, 80, 2],
                                        [8, 1, 8, 10, 15, 3, 100]])
    population = np.ravel(confusion_of_population) / confusion_of_population.sum()

    def macro_f1(matrix):
        tp = np.diag(matrix)
        return float(np.mean(2 * tp / (matrix.sum(0) + matrix.sum(1))))

    truth = macro_f1(confusion_of_population.astype(float))
    hits = 0
    for _ in range(1000):
        sample = rng.multinomial(800, population).reshape(7, 7)
        low, high = metric_intervals(sample)["macro_f1"]
        hits += low <= truth <= high
    assert 0.92 <= hits / 1000 <= 0.97, hits


def test_intervals_from_a_confusion_matrix_match_the_metrics():
    confusion = np.diag([50, 5, 40, 90, 60, 40, 60]) + 3
    intervals = metric_intervals(confusion)
    y_true, y_pred = pairs_from_confusion(confusion)
    accuracy = float((y_true == y_pred).mean())
    assert intervals["accuracy"] == wilson(np.trace(confusion), confusion.sum())
    assert intervals["accuracy"][0] < accuracy < intervals["accuracy"][1]
    fear = intervals["per_class"]["fear"]
    assert fear["recall"] == wilson(43, confusion[2].sum()) and fear["precision"] == wilson(43, confusion[:, 2].sum())
    assert with_interval(0.70994, [0.695, 0.7246]) == "70.99% (69.50-72.46)"


def test_mcnemar_exact_against_a_case_worked_by_hand():
    # 10 faces only one model gets right: 1 for A, 9 for B. Under "equally likely", P(X <= 1) for
    # Binomial(10, 1/2) = (1 + 10) / 1024; two-sided: 22 / 1024.
    assert mcnemar_exact(1, 9) == 22 / 1024 == mcnemar_exact(9, 1)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0


def test_paired_comparison_tells_a_real_difference_from_noise():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 7, 2000)
    a = np.where(rng.random(2000) < 0.70, labels, (labels + 1) % 7)
    better = np.where(rng.random(2000) < 0.5, labels, a)  # B fixes half of A's mistakes
    same = paired_comparison(labels, a, a.copy())["overall"]
    assert same["difference"] == 0 and same["p_value"] == 1.0 and not same["significant"]
    real = paired_comparison(labels, a, better)
    assert real["overall"]["significant"] and real["overall"]["only_a_right"] == 0
    low, high = real["overall"]["interval"]
    assert 0 < low < real["overall"]["difference"] < high
    assert set(real["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
