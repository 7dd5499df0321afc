"""The A/B split on the local target for real: HAProxy on 127.0.0.1 weighting two stub services,
2,000 requests counted by the color that answered them (HAProxy's X-Greenlight-Variant answer
header) and by each color's prediction log; pins by header and by caller id; then delayed labels
for the logged predictions, and `greenlight deploy decide` rolling a worse candidate back and
promoting a better one."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from deploy_rig import REAL_COMMAND, STUB_COMMAND, LocalRig, local_rig, needs_haproxy, real_bundle
from split_traffic import (
    BETTER,
    CONSTANT,
    WORSE,
    Headers,
    label_log,
    logged_at,
    numbered,
    spec_bundle,
)
from split_traffic import send as send_to
from typer.testing import CliRunner

from conftest import PipelineRun
from greenlight.cli import app
from greenlight.deploy.controller import Controller, DeployError, Outcome
from greenlight.deploy.runner import bundle_candidate
from greenlight.deploy.settings import SplitSettings
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.local import open_local
from greenlight.deploy.targets.local_state import LocalState
from greenlight.logformat import LoggedPrediction

pytestmark = [pytest.mark.slow, needs_haproxy]


@pytest.fixture
def split_rig(tmp_path: Path) -> Iterator[LocalRig]:
    split = SplitSettings(min_samples=100, alpha=0.01)
    with local_rig(STUB_COMMAND, tmp_path / "bundles", split=split) as rig:
        yield rig


def bundle(rig: LocalRig, version: str, faults: dict[str, Any]) -> Path:
    """A stub bundle whose manifest also names the dataset (labels, sensitive attributes)."""
    return spec_bundle(rig.bundles, version, faults)


def deploy(rig: LocalRig, path: Path, split: int | None = None) -> Outcome:
    with open_local(rig.settings.local) as target:
        controller = Controller(target, rig.settings, echo=None)
        return controller.deploy(bundle_candidate(path), split=split)


def send(rig: LocalRig, count: int, headers: Headers = None, seed: int = 0) -> Counter[str]:
    return send_to(rig.url, count, headers, seed)


def logged(rig: LocalRig, color: str) -> list[LoggedPrediction]:
    return logged_at(rig.settings.local.state_dir / "logs" / color / "predictions.jsonl")


def report_outcomes(rig: LocalRig, seed: int = 1) -> int:
    """The true label of every logged prediction not labelled yet, appended to the outcome log
    beside it (as `greenlight outcomes import` does): the age rule, contradicted at random
    (seeded) in NOISE of the cases, whichever color answered."""
    noise, logs = np.random.default_rng(seed), rig.settings.local.state_dir / "logs"
    colors = ("blue", "green")
    return sum(
        label_log(logs / c / "predictions.jsonl", logs / c / "outcomes.jsonl", noise)
        for c in colors
    )


def decide(rig: LocalRig, tmp_path: Path) -> tuple[int, str]:
    """`greenlight deploy decide` with the rig's settings as params.yaml: exit code and its last
    line (the verdict; the audit entries come before it)."""
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"deploy": rig.settings.model_dump(mode="json")}))
    result = CliRunner().invoke(app, ["deploy", "decide", "--params", str(params)])
    assert result.output.strip(), (result.exit_code, result.exception)  # a crash says why
    return result.exit_code, result.output.strip().splitlines()[-1]


def test_split_share_and_pins(split_rig: LocalRig) -> None:
    assert deploy(split_rig, bundle(split_rig, "v1", CONSTANT)).decision == "deployed"
    assert deploy(split_rig, bundle(split_rig, "v2", BETTER), split=20).decision == "splitting"
    before = {color: len(logged(split_rig, color)) for color in ("blue", "green")}
    hashed = send(split_rig, 2000, headers=lambda n: {"X-Caller-Id": f"caller-{n}"})
    in_logs = {color: len(logged(split_rig, color)) - before[color] for color in before}
    share = hashed["green"] / 2000
    print(f"2000 requests, one caller each, at 20%: candidate {hashed['green']} ({share:.1%})")
    assert 0.17 <= share <= 0.23, hashed
    assert in_logs == dict(hashed)  # the answer header and the prediction logs agree
    unpinned = send(split_rig, 500)
    print(f"500 requests without a caller id (weighted round robin): {dict(unpinned)}")
    assert 0.17 <= unpinned["green"] / 500 <= 0.23, unpinned
    for pin, color in (
        ("candidate", "green"),
        ("GREEN", "green"),
        ("live", "blue"),
        ("blue", "blue"),
    ):
        assert send(split_rig, 30, headers=lambda n, pin=pin: {"X-Greenlight-Variant": pin}) == {
            color: 30
        }
    for caller in range(20):  # one caller never flips between variants
        assert len(send(split_rig, 10, headers=lambda n, c=caller: {"X-Caller-Id": f"c{c}"})) == 1

    callers = {caller: {"X-Caller-Id": f"caller-{caller}"} for caller in range(0, 2000, 50)}
    where = {
        caller: send(split_rig, 1, headers=lambda n, h=pin: h) for caller, pin in callers.items()
    }
    with open_local(split_rig.settings.local) as target:
        haproxy = LocalState.load(target.root / "state.json").proxy
        assert haproxy is not None
        os.kill(haproxy.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while processes.alive(haproxy.record()) and time.monotonic() < deadline:
            time.sleep(0.05)  # the signal is delivered asynchronously
    with open_local(split_rig.settings.local) as target:  # restarts HAProxy from its config
        assert target.restarted_proxy and target.current_split() is not None
    again = {
        caller: send(split_rig, 1, headers=lambda n, h=pin: h) for caller, pin in callers.items()
    }
    assert again == where  # the weights came back from haproxy.cfg: every caller where it was


def test_split_refused_while_one_runs_and_decide_off_the_host(
    split_rig: LocalRig, tmp_path: Path
) -> None:
    deploy(split_rig, bundle(split_rig, "v1", CONSTANT))
    deploy(split_rig, bundle(split_rig, "v2", BETTER), split=20)
    with pytest.raises(DeployError, match="end it first"):
        deploy(split_rig, bundle(split_rig, "v3", BETTER))
    with open_local(split_rig.settings.local, start_proxy=False) as target:
        target.down()  # `deploy down` ends the split with its colors
        assert target.current_split() is None
    code, output = cli(split_rig, tmp_path, "decide")
    assert code == 2 and "no split in progress" in output, output  # by hand: nothing to end
    code, output = cli(split_rig, tmp_path, "decide", "--if-splitting")
    assert (code, output.strip()) == (0, "no split in progress: nothing to decide")  # scheduled
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"deploy": split_rig.settings.model_dump(mode="json")}))
    command = ["deploy", "decide", "--target", "kubernetes"]  # no per-variant logs there
    result = CliRunner().invoke(app, [*command, "--params", str(params)])
    assert result.exit_code == 2, result.output
    assert "--target kubernetes takes --verdict promote|rollback" in result.output
    command = ["deploy", "decide", "--target", "local", "--verdict", "promote"]
    result = CliRunner().invoke(app, [*command, "--params", str(params)])
    assert result.exit_code == 2, result.output
    assert "--verdict is for --target kubernetes" in result.output


def test_decide_rolls_back_a_worse_candidate_and_promotes_a_better_one(
    split_rig: LocalRig, tmp_path: Path
) -> None:
    deploy(split_rig, bundle(split_rig, "v1", CONSTANT))
    deploy(split_rig, bundle(split_rig, "v2", WORSE), split=20)
    send(split_rig, 300, headers=lambda n: {"X-Caller-Id": f"early-{n}"})
    report_outcomes(split_rig)
    code, output = decide(split_rig, tmp_path)
    print(output)
    assert code == 0 and output.startswith("keep:"), output  # too few labelled on the candidate
    send(split_rig, 1700, headers=lambda n: {"X-Caller-Id": f"a-{n}"}, seed=2)
    report_outcomes(split_rig, seed=3)
    code, output = decide(split_rig, tmp_path)
    print(output)
    assert code == 1 and output.startswith("rollback:"), output
    assert send(split_rig, 50) == {"blue": 50}  # all traffic back on the live color
    entry = next(e for e in reversed(split_rig.audit()) if e.step == "decide")
    print({key: entry.details[key] for key in ("candidate_samples", "live_samples")})
    assert entry.details["z"] < 0 and entry.details["candidate_samples"] >= 100, entry.details
    assert deploy(split_rig, bundle(split_rig, "v3", BETTER), split=20).decision == "splitting"
    send(split_rig, 2000, headers=lambda n: {"X-Caller-Id": f"b-{n}"}, seed=4)
    report_outcomes(split_rig, seed=5)
    code, output = decide(split_rig, tmp_path)
    print(output)
    assert code == 0 and output.startswith("promote:"), output
    entry = next(e for e in reversed(split_rig.audit()) if e.step == "decide")
    print({key: entry.details[key] for key in ("candidate_samples", "live_samples")})
    assert send(split_rig, 50) == {"green": 50}
    with open_local(split_rig.settings.local) as target:
        state = target.state()
    assert (state.live, state.split, state.slots["blue"].running) == ("green", None, False)


def cli(rig: LocalRig, tmp_path: Path, *arguments: str) -> tuple[int, str]:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"deploy": rig.settings.model_dump(mode="json")}))
    result = CliRunner().invoke(app, ["deploy", *arguments, "--params", str(params)])
    return result.exit_code, result.output


def sensitive_store(rig: LocalRig, path: Path) -> Path:
    """The separate store: every logged record's groups by request id, one group per age band
    (so a model that predicts by age treats the groups differently)."""
    rows = ["request_id,record,sex,race"]
    for color in ("blue", "green"):
        for (request_id, number), item in numbered(logged(rig, color)):
            group = "A" if item.features["age"] >= 50 else "B"
            rows.append(f"{request_id},{number},{group},{group}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_status_shows_each_variant_and_a_fairness_regression_rolls_back(
    split_rig: LocalRig, tmp_path: Path
) -> None:
    deploy(split_rig, bundle(split_rig, "v1", CONSTANT))
    deploy(split_rig, bundle(split_rig, "v2", BETTER), split=20)
    send(split_rig, 1500, headers=lambda n: {"X-Caller-Id": f"f-{n}"}, seed=6)
    report_outcomes(split_rig, seed=7)
    store = sensitive_store(split_rig, tmp_path / "private" / "sensitive.csv")
    metrics = tmp_path / "textfile" / "greenlight.prom"
    code, output = cli(split_rig, tmp_path, "status", "--metrics-file", str(metrics))
    assert code == 0, output
    shown = json.loads(output[: output.rindex("}") + 1])
    variants = shown["split"]["variants"]
    print(
        {
            color: {k: v for k, v in one.items() if k != "fairness"}
            for color, one in variants.items()
        }
    )
    assert (shown["split"]["candidate"], shown["split"]["percent"]) == ("green", 20)
    assert variants["green"]["traffic"]["requests"] == variants["green"]["predictions"] > 200
    # the constant model says >50K only for the two known-answer records among ages 20-79
    assert variants["blue"]["positive_rate"] < 0.1
    assert variants["green"]["positive_rate"] > 0.4
    assert variants["green"]["accuracy"] > variants["blue"]["accuracy"]
    assert variants["green"]["traffic"]["percentiles_ms"]["p95"] is not None
    assert 'greenlight_variant_accuracy{color="green"' in metrics.read_text()
    code, output = cli(split_rig, tmp_path, "decide", "--sensitive", str(store))
    print(output.strip().splitlines()[-1])
    assert code == 1 and "fairness gap" in output, output
    entry = next(e for e in reversed(split_rig.audit()) if e.step == "decide")
    assert entry.details["rule"] == "fairness" and entry.details["fairness_regression"] > 0.5
    audit = split_rig.settings.audit_log.read_text()
    assert not any(word in audit for word in ('"sex"', '"race"', "sex:", "race:"))


def await_logged(rig: LocalRig, counts: dict[str, int], deadline_s: float = 20.0) -> None:
    """Until each color's prediction log holds at least `counts[color]` lines."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if all(len(logged(rig, color)) >= count for color, count in counts.items()):
            return
        time.sleep(0.2)
    raise AssertionError(f"the prediction logs never held {dict(counts)} lines")


def test_real_services_take_feedback_through_the_proxy_by_the_answer_header(
    tmp_path: Path, pipeline_run: PipelineRun
) -> None:
    """`greenlight serve` on both colors: each answer names its color, and a POST /feedback sent
    with that header reaches the color whose prediction log holds the request."""
    with local_rig(REAL_COMMAND, tmp_path / "bundles", readiness_deadline_s=240.0) as rig:
        for version in ("v1", "v2"):
            real_bundle(pipeline_run.bundle, rig.bundles, version)
        deploy(rig, rig.bundles / "v1")
        assert deploy(rig, rig.bundles / "v2", split=20).decision == "splitting"
        manifest = json.loads((rig.bundles / "v1" / "manifest.json").read_text())
        records = [answer["record"] for answer in manifest["known_answers"]]
        before = {color: len(logged(rig, color)) for color in ("blue", "green")}
        with httpx.Client(timeout=30) as client:
            answers = [
                client.post(
                    rig.url, json={"records": [records[n % 5]]}, headers={"X-Caller-Id": f"r{n}"}
                )
                for n in range(150)
            ]
            given = Counter(answer.headers["X-Greenlight-Variant"] for answer in answers)
            # the labels come late: by then the service has flushed the lines to its log
            await_logged(rig, {color: before[color] + count for color, count in given.items()})
            for answer in answers:
                label = answer.json()["predictions"][0]["label"]
                feedback = {"request_id": answer.headers["X-Request-ID"], "label": label}
                pin = {"X-Greenlight-Variant": answer.headers["X-Greenlight-Variant"]}
                url = rig.url.replace("/predict", "/feedback")
                sent = client.post(url, json=feedback, headers=pin)
                for _ in range(25):  # a 404 may mean "not flushed yet": the service says retry
                    if sent.status_code != 404:
                        break
                    time.sleep(0.2)
                    sent = client.post(url, json=feedback, headers=pin)
                assert sent.status_code == 201, sent.text
        print(f"150 requests to real services at 20%, feedback through the proxy: {dict(given)}")
        code, output = cli(rig, tmp_path, "status")
        assert code == 0, output
        variants = json.loads(output[: output.rindex("}") + 1])["split"]["variants"]
        assert {color: one["outcomes"] for color, one in variants.items()} == dict(given)
        assert all(one["accuracy"] == 1.0 for one in variants.values())
