from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from greenlight.monitor.errors import EmptyWindowError, ModelVersionError
from greenlight.monitor.log_reader import TIMESTAMP, VERSION
from greenlight.monitor.settings import Window
from greenlight.monitor.window import one_model_version, other_versions, sample, select_window

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def log(hours_ago: list[float], versions: list[str] | None = None) -> pd.DataFrame:
    stamps = [NOW - timedelta(hours=hours) for hours in hours_ago]
    return pd.DataFrame(
        {
            "age": range(len(stamps)),
            TIMESTAMP: pd.to_datetime(stamps, utc=True),
            VERSION: versions or ["v1"] * len(stamps),
        }
    )


def test_the_bundles_version_is_kept_and_the_others_are_counted():
    frame = log([1, 2, 3, 4], ["v1", "v0", "v1", "v0"])
    kept, version = one_model_version(frame, "v1")
    assert version == "v1" and list(kept["age"]) == [0, 2]
    assert other_versions(frame, version) == {"v0": 2}


def test_without_the_bundles_version_it_refuses_another_models_traffic_naming_both():
    frame = log([1, 2, 3, 30], ["hgb-2", "hgb-1", "hgb-2", "hgb-0"])  # the bundle is "hgb-9"
    with pytest.raises(ModelVersionError) as raised:
        one_model_version(frame, "hgb-9")
    message = str(raised.value)
    assert "no prediction of model hgb-9 (the bundle's), only of hgb-2 (2), " in message
    assert "git log -S" in message


def test_an_empty_log_is_an_empty_window():
    with pytest.raises(EmptyWindowError, match="no prediction at all"):
        one_model_version(log([]), "v1")


def test_a_time_window_keeps_what_falls_between_its_start_and_now():
    frame = log([30, 0.5, 23.9, 24.0, -1])  # -1: an hour after `now`, e.g. a backfill run
    selected = select_window(frame, Window(days=1), NOW)
    assert list(selected["age"]) == [2, 1]  # oldest first; exactly 24 h ago is outside


def test_a_row_window_keeps_the_newest_rows():
    frame = log([5, 1, 3, 2, 4])
    assert list(select_window(frame, Window(rows=2), NOW)["age"]) == [3, 1]
    assert len(select_window(frame, Window(rows=50), NOW)) == 5


def test_an_empty_time_window_says_what_the_log_covers():
    frame = log([72, 48])
    with pytest.raises(EmptyWindowError) as raised:
        select_window(frame, Window(hours=6), NOW)
    message = str(raised.value)
    assert "no prediction in the last 6 hours" in message
    assert "2 predictions span 2025-02-26T12:00:00+00:00 to 2025-02-27T12:00:00+00:00" in message


def test_sampling_is_capped_seeded_and_keeps_small_frames_whole():
    frame = pd.DataFrame({"x": range(1000)})
    first, again = sample(frame, 100, seed=3), sample(frame, 100, seed=3)
    assert len(first) == 100 and first.index.is_unique
    pd.testing.assert_frame_equal(first, again)
    assert not sample(frame, 100, seed=4).equals(first)
    assert sample(frame, 5000, seed=3) is frame
