"""Which logged predictions a drift run looks at: those of one model version, within the
configured window (the last N hours or days before `now`, or the newest N rows), sampled down to
at most `max_rows` with a fixed seed so a rerun on the same log gives the same report."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from greenlight.monitor.errors import EmptyWindowError, ModelVersionError
from greenlight.monitor.log_reader import TIMESTAMP, VERSION
from greenlight.monitor.settings import Window


def one_model_version(log: pd.DataFrame, bundle_version: str) -> tuple[pd.DataFrame, str]:
    """The predictions of the bundle's model version. Versions are derived from the model's
    content, so the bundle `dvc repro` rebuilds anywhere has the version the deployment logs; a
    log without it holds another model's traffic, which this bundle's training data cannot be
    the reference for. Predictions of several models are never mixed."""
    if log.empty:
        raise EmptyWindowError("the prediction log holds no prediction at all")
    versions = log[VERSION]
    if not (versions == bundle_version).any():
        counts = ", ".join(f"{name} ({count:,})" for name, count in versions.value_counts().items())
        raise ModelVersionError(
            f"the prediction log holds no prediction of model {bundle_version} (the bundle's), "
            f"only of {counts}: check out the commit that introduced the served model "
            "(`git log -S <version> -- reports/model_card.md`) and run drift there"
        )
    return log[versions == bundle_version], bundle_version


def other_versions(log: pd.DataFrame, kept: str) -> dict[str, int]:
    """How many predictions of each other model version were left out."""
    counts = log[VERSION].value_counts()
    return {str(name): int(count) for name, count in counts.items() if name != kept}


def select_window(log: pd.DataFrame, window: Window, now: datetime) -> pd.DataFrame:
    """The rows of `log` in `window`, oldest first; EmptyWindowError says what the log covers."""
    ordered = log.sort_values(TIMESTAMP, kind="stable")
    if window.rows is not None:
        return ordered.tail(window.rows)
    start = window.start(now)
    stamps = ordered[TIMESTAMP]
    selected = ordered[(stamps > pd.Timestamp(start)) & (stamps <= pd.Timestamp(now))]
    if selected.empty:
        raise EmptyWindowError(
            f"no prediction in {window.describe()} before {now.isoformat()}: the log's "
            f"{len(log):,} predictions span {stamps.iloc[0].isoformat()} to "
            f"{stamps.iloc[-1].isoformat()}"
        )
    return selected


def sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most `max_rows` rows, drawn without replacement with `seed`; all of them if fewer."""
    if len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed).sort_index()
