from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from greenlight.monitor.stats import chi_squared, kolmogorov_smirnov, pooled_counts


def categories(counts: dict[str, int]) -> pd.Series:
    return pd.Series([name for name, count in counts.items() for _ in range(count)], dtype=object)


def test_ks_gives_the_largest_gap_between_the_distributions_and_ignores_missing():
    reference = pd.Series([1.0, 2.0, 3.0, 4.0, np.nan])
    current = pd.Series([3.0, 4.0, 5.0, 6.0])
    outcome = kolmogorov_smirnov(reference, current)
    assert outcome.statistic == pytest.approx(0.5)
    assert 0 < outcome.p_value < 1


def test_chi_squared_is_the_two_sample_test_of_homogeneity():
    reference = categories({"a": 300, "b": 200, "c": 100})
    current = categories({"a": 100, "b": 100, "c": 100})
    expected = chi2_contingency(np.array([[300, 200, 100], [100, 100, 100]]), correction=False)
    outcome = chi_squared(reference, current)
    assert outcome.statistic == pytest.approx(expected.statistic)
    assert outcome.p_value == pytest.approx(expected.pvalue)


def test_rare_categories_are_pooled_instead_of_dominating_the_statistic():
    reference = categories({"a": 500, "b": 500, "rare1": 1, "rare2": 2})
    current = categories({"a": 250, "b": 250, "new": 1})
    table = pooled_counts(reference, current)
    assert table.tolist() == [[500, 500, 3], [250, 250, 1]]
    outcome = chi_squared(reference, current)
    assert np.isfinite(outcome.statistic) and outcome.p_value > 0.5  # not a drift


def test_a_real_shift_between_categories_is_found():
    reference = categories({"a": 500, "b": 500})
    current = categories({"a": 350, "b": 150})
    assert chi_squared(reference, current).p_value < 1e-10


def test_a_single_category_left_cannot_differ():
    assert chi_squared(categories({"a": 10}), categories({"a": 3})).p_value == 1.0
