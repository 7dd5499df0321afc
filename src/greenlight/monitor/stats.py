"""The two drift tests, as pure functions of a reference and a current sample (missing values
left out, as Evidently does before it calls a test):

- numeric: the two-sample Kolmogorov-Smirnov test (Evidently's `ks`, the same scipy call);
- categorical: a two-sample chi-squared test of homogeneity on the 2 x k table of counts, with
  the categories too rare to test (expected count below 5 on either side) pooled into one.
  Evidently's own `chisquare` is a goodness-of-fit test against the reference proportions: a
  category absent from the reference sample makes its statistic infinite and its p-value 0, and
  sparse categories (41 native countries) inflate it, so unshifted traffic gets flagged. This
  test is registered in Evidently (see drift.py), so its report and ours use the same numbers.

Evidently reports only a p-value per column; these also give the statistic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

KS = "ks"
CHI2 = "chi2_two_sample"
TEST_NAMES = {KS: "Kolmogorov-Smirnov", CHI2: "chi-squared (two-sample)"}
MIN_EXPECTED = 5.0  # Cochran's rule: below this, a cell's chi-squared term is unreliable


@dataclass(frozen=True)
class TestOutcome:
    statistic: float
    p_value: float


def kolmogorov_smirnov(reference: pd.Series, current: pd.Series) -> TestOutcome:
    """Two-sided two-sample KS: the largest gap between the two empirical distributions."""
    result = ks_2samp(reference.dropna().to_numpy(), current.dropna().to_numpy())
    return TestOutcome(float(result.statistic), float(result.pvalue))


def chi_squared(reference: pd.Series, current: pd.Series) -> TestOutcome:
    """Chi-squared test that both samples come from one categorical distribution."""
    table = pooled_counts(reference.dropna(), current.dropna())
    if table.shape[1] < 2:  # one category left: nothing can differ
        return TestOutcome(0.0, 1.0)
    statistic, p_value, _, _ = chi2_contingency(table, correction=False)
    return TestOutcome(float(statistic), float(p_value))


def pooled_counts(reference: pd.Series, current: pd.Series) -> np.ndarray:
    """The 2 x k table of counts, the rare categories' columns summed into one."""
    counts = pd.concat(
        [reference.value_counts(), current.value_counts()], axis=1, keys=["reference", "current"]
    ).fillna(0)
    totals = counts.sum(axis=1)
    share = counts.sum(axis=0) / totals.sum()  # each side's share of all records
    rare = (np.outer(totals, share) < MIN_EXPECTED).any(axis=1)
    kept = counts[~rare].to_numpy().T
    if rare.any():
        kept = np.column_stack([kept, counts[rare].sum(axis=0).to_numpy()])
    return kept


STATISTICS = {KS: kolmogorov_smirnov, CHI2: chi_squared}
