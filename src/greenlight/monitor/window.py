"""Which logged predictions a drift run looks at: those of one model version, within the
configured window (the last N hours or days before `now`, or the newest N rows), sampled down to
at most `max_rows` with a fixed seed so a rerun on the same log gives the same report."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from greenlight.monitor.errors import EmptyWindowError
from greenlight.monitor.log_reader import TIMESTAMP, VERSION
from greenlight.monitor.settings import Window


def one_model_version(log: pd.DataFrame, bundle_version: str) -> tuple[pd.DataFrame, str]:
    """The predictions of one model version: the bundle's when the log has any, else the newest
    in the log (a bundle rebuilt in CI gets the current commit as its version, while the same
    pipeline's deployed model kept the commit it was trained at). Predictions of several models
    are never mixed: the predicted-class comparison would mean nothing."""
    if log.empty:
        raise EmptyWindowError("the prediction log holds no prediction at all")
    versions = log[VERSION]
    if (versions == bundle_version).any():
        return log[versions == bundle_version], bundle_version
    newest = str(versions.loc[log[TIMESTAMP].idxmax()])
    return log[versions == newest], newest


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
