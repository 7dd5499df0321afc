"""The deploy package's pure parts: settings, audit log, smoke and watch verdicts, readiness,
the HAProxy config and counters, metrics parsing, shadow agreement, the log feed, the summary,
process groups, and the CLI's input errors."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest
from deploy_fakes import FakeClock
from deploy_rig import RIG_MARK, marked_processes

from greenlight.deploy.audit import AuditLog, read_entries
from greenlight.deploy.metrics import predict_counts
from greenlight.deploy.readiness import Probes, Refusal, wait_ready
from greenlight.deploy.settings import LocalSettings, WatchSettings, parse_settings
from greenlight.deploy.shadow import agreement, observed_from
from greenlight.deploy.smoke import judge_answers, percentile, predict
from greenlight.deploy.summary import render_summary
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.haproxy import (
    ProxyLayout,
    check_socket_path,
    render_config,
    traffic_from,
)
from greenlight.deploy.targets.local import LocalTarget
from greenlight.deploy.targets.logfeed import LogFeed
from greenlight.deploy.watch import Sample, canary_breach, error_breach, recent_counts
from greenlight.errors import ConfigError, GreenlightError
from greenlight.logformat import LoggedPrediction, stamp
from greenlight.settings import load_settings

# -- settings -------------------------------------------------------------------------------------


def test_settings_default_when_the_section_is_absent(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train: {model: hgb}\n")
    settings = load_settings(tmp_path / "params.yaml", with_dataset=False).deploy
    assert settings.local.proxy_port == 8080 and settings.watch.window_s == 60


def test_the_repository_params_have_a_valid_deploy_section() -> None:
    settings = load_settings(Path(__file__).parents[2] / "params.yaml").deploy
    assert settings.smoke.latency_budget_ms > 0 and settings.local.proxy_port == 8080


def test_a_bad_setting_names_its_dotted_key() -> None:
    with pytest.raises(ConfigError, match=r"deploy\.watch\.window_s"):
        parse_settings({"watch": {"window_s": -1}})
    with pytest.raises(ConfigError, match=r"deploy\.smoke\.latency_budget"):
        parse_settings({"smoke": {"latency_budget": 0.1}})


# -- audit log -----------------------------------------------------------------------------------


def test_audit_entries_carry_every_field_and_are_printed(tmp_path: Path) -> None:
    printed = io.StringIO()
    log = AuditLog(tmp_path / "a" / "audit.jsonl", "local", actor="ana", version="v2",
                   previous_version="v1", echo=printed)  # fmt: skip
    log.record("smoke:latency", "failed", "p95 900 ms", p95_ms=900.0)
    line = json.loads((tmp_path / "a" / "audit.jsonl").read_text())
    assert {"time", "actor", "version", "previous_version", "step", "result", "reason"} <= set(line)
    assert (line["actor"], line["version"], line["previous_version"]) == ("ana", "v2", "v1")
    assert line["details"] == {"p95_ms": 900.0} and line["run"] == log.run
    assert "smoke:latency: failed - p95 900 ms" in printed.getvalue()
    assert read_entries(tmp_path / "a" / "audit.jsonl")[0].reason == "p95 900 ms"


def test_a_malformed_audit_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"step": "x"}\n')
    with pytest.raises(GreenlightError, match=r"audit.jsonl:1"):
        read_entries(path)


def test_the_actor_comes_from_github_in_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert AuditLog(Path("unused"), "kubernetes").actor == "octocat"


# -- smoke verdicts ------------------------------------------------------------------------------


def body(version: str, probabilities: list[object]) -> dict[str, object]:
    return {"model_version": version, "predictions": [{"probability": p} for p in probabilities]}


def test_known_answers_within_tolerance_pass() -> None:
    check = judge_answers(body("v1", [0.1, 0.50004]), "v1", [0.1, 0.5], tolerance=1e-4)
    assert check.passed and check.values["mismatches"] == []


def test_known_answers_name_the_records_that_differ_and_by_how_much() -> None:
    check = judge_answers(body("v1", [0.1, 0.7, "n/a"]), "v1", [0.1, 0.5, 0.3], tolerance=1e-4)
    assert not check.passed and check.values["mismatches"] == [1, 2]
    assert "records [1, 2]" in check.detail and "inf" in check.detail


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(body("v0", [0.1]), "serves version 'v0', not 'v1'"), (body("v1", []), "0 predictions")],
)
def test_the_wrong_version_or_count_fails(answer: dict[str, object], expected: str) -> None:
    check = judge_answers(answer, "v1", [0.1], tolerance=1e-4)
    assert not check.passed and expected in check.detail


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(500), "/predict answered 500"),
        (httpx.Response(200, text="<html>"), "/predict answered a body that is not JSON"),
    ],
)
def test_a_bad_predict_answer_is_a_greenlight_error(
    response: httpx.Response, expected: str
) -> None:
    """A user-facing error (one line and the CLI's exit code, not a traceback), naming the fault."""
    with pytest.raises(GreenlightError, match=expected):
        predict(client_for(lambda request: response), [{"age": 1}])


def test_percentile_is_nearest_rank() -> None:
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


# -- watch verdicts ------------------------------------------------------------------------------

WATCH = WatchSettings(error_window_s=3, max_error_rate=0.05, min_requests=10, max_latency_ms=100)


def test_error_rate_is_taken_over_the_recent_span_only() -> None:
    samples = [Sample(0, 0, 0), Sample(1, 1000, 0), Sample(2, 1100, 0), Sample(5, 1200, 20)]
    assert recent_counts(samples, 3) == (100, 20)  # since t=2, the newest sample 3s old
    assert "error rate 20.0% (20 of 100 requests in the last 3s)" in error_breach(samples, WATCH)
    assert error_breach(samples[:3], WATCH) is None


def test_few_requests_give_no_verdict_and_a_restart_counts_from_zero() -> None:
    assert error_breach([Sample(0, 0, 0), Sample(1, 5, 5)], WATCH) is None
    assert recent_counts([Sample(0, 900, 9), Sample(1, 30, 3)], 3) == (30, 3)


def test_canary_breaches_on_consecutive_failures_or_slow_median() -> None:
    assert canary_breach([10.0, None], WATCH) is None
    assert "last 2 canary requests failed" in canary_breach([10.0, None, None], WATCH)
    assert canary_breach([500.0, 10.0, 20.0], WATCH) is None
    assert "canary latency 300 ms" in canary_breach([300.0, 300.0, 10.0], WATCH)


# -- readiness -----------------------------------------------------------------------------------


def client_for(handler: object) -> httpx.Client:
    return httpx.Client(base_url="http://svc", transport=httpx.MockTransport(handler))


def test_readiness_waits_for_the_target_and_readyz() -> None:
    clock, polls = FakeClock(), []

    def handler(request: httpx.Request) -> httpx.Response:
        polls.append(request.url.path)
        return httpx.Response(200 if len(polls) > 3 else 503)

    probes = Probes(available=lambda: True, failure=lambda: None)
    check = wait_ready(client_for(handler), 10, probes, clock=clock, sleep=clock.sleep)
    assert check.passed and check.values["s"] == pytest.approx(0.75)


def test_readiness_stops_at_the_deadline_or_a_failure() -> None:
    clock = FakeClock()
    never = client_for(lambda request: httpx.Response(503))
    check = wait_ready(never, 2, Probes(lambda: True, lambda: None), clock=clock, sleep=clock.sleep)
    assert not check.passed and "within the 2s deadline" in check.detail
    crashed = Probes(lambda: False, lambda: "process 7 exited with code 1")
    check = wait_ready(never, 2, crashed, clock=clock, sleep=clock.sleep)
    assert "exited with code 1" in check.detail and check.values["s"] == 0


def test_a_refusal_must_last_the_grace_period() -> None:
    clock, answers = FakeClock(), iter([503, 200, 503, 503, 503])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={"error": "not ready: hash mismatch"})

    refusal = Refusal(client_for(handler), {"age": 1}, grace_s=2.0, clock=clock)
    verdicts = []
    for _ in range(5):
        verdicts.append(refusal.settled())
        clock.sleep(1.0)
    assert verdicts[:4] == [None, None, None, None]  # the 200 reset the clock
    assert verdicts[4] == "it answers /predict with 503: not ready: hash mismatch"


# -- HAProxy config and counters ------------------------------------------------------------------


def test_the_config_listens_on_loopback_and_enables_only_the_live_color(tmp_path: Path) -> None:
    layout = ProxyLayout(
        8080, tmp_path / "h.sock", tmp_path / "h.pid", {"blue": 4001, "green": None}, "blue"
    )
    config = render_config(layout, as_root=True)
    assert "bind 127.0.0.1:8080" in config
    assert "server blue 127.0.0.1:4001 check\n" in config
    assert "server green 127.0.0.1:1 check disabled" in config
    assert "option httpchk GET /readyz" in config.split("\nbackend colors")[1]
    assert "frontend metrics" not in config  # no exporter unless a port is given
    exported = render_config(replace(layout, metrics_port=8404), as_root=False)
    assert "bind 127.0.0.1:8404" in exported and "prometheus-exporter" in exported
    assert "uid 65534" in config and f"stats socket {tmp_path / 'h.sock'} mode 600" in config
    assert "uid" not in render_config(layout, as_root=False)
    # a slow client's body is buffered at the proxy: it never holds a service worker
    assert "option http-buffer-request" in config.split("frontend")[0]


def test_client_aborts_are_not_errors_of_the_service() -> None:
    row = {"req_tot": "90", "hrsp_5xx": "0", "econ": "0", "eresp": "0", "cli_abrt": "7"}
    assert traffic_from(row).errors == 0


def test_router_counts_include_failed_connections() -> None:
    row = {"req_tot": "90", "hrsp_5xx": "4", "econ": "10", "eresp": "1", "scur": "0"}
    traffic = traffic_from(row)
    assert (traffic.requests, traffic.errors) == (100, 15)


def test_a_relative_socket_path_is_refused_and_the_local_target_uses_absolute_ones() -> None:
    layout = ProxyLayout(8080, Path("state/h.sock"), Path("state/h.pid"), {}, None)
    with pytest.raises(ConfigError, match="must be absolute"):
        render_config(layout, as_root=False)
    target = LocalTarget(LocalSettings(state_dir=Path(".deploy/local")))
    assert target.root.is_absolute() and target.proxy.api.socket.is_absolute()


def test_a_socket_path_too_long_is_refused() -> None:
    with pytest.raises(ConfigError, match="shorter state_dir"):
        check_socket_path(Path("/tmp") / ("x" * 120) / "haproxy.sock")


# -- metrics, shadow, feed, summary ------------------------------------------------------------


def test_predict_counts_read_bentoml_counters() -> None:
    name, service = "bentoml_service_request", 'service_name="g"'
    text = "\n".join([
        f"# TYPE {name}_total counter",
        f'{name}_total{{endpoint="/predict",http_response_code="200",{service}}} 97.0',
        f'{name}_total{{endpoint="/predict",http_response_code="503",{service}}} 3.0',
        f'{name}_total{{endpoint="/readyz",http_response_code="200",{service}}} 50.0',
        f'{name}_created{{endpoint="/predict",http_response_code="200",{service}}} 1.7e9',
    ])  # fmt: skip
    traffic = predict_counts(text + "\n")
    assert (traffic.requests, traffic.errors) == (100, 3)


def _logged(age: int, label: str, probability: float) -> str:
    moment = stamp(datetime(2026, 12, 4, tzinfo=UTC))
    return LoggedPrediction(moment, "ab" * 16, "v1", {"age": age}, label, probability).line()


def test_shadow_compares_the_logged_predictions_and_counts_the_other_lines() -> None:
    other_format = '{"log_format": 2, "features": {"age": 4}, "prediction": {"label": "b"}}\n'
    lines = [_logged(3, "a", 0.1), other_format, '{"log_format": 1, "feat', _logged(5, "b", 0.9)]
    observed, unreadable = observed_from(lines)
    assert [(item.record["age"], item.label) for item in observed] == [(3, "a"), (5, "b")]
    assert unreadable == 2
    assert agreement(["a", "b"], ["a", "a"]) == 0.5
    with pytest.raises(ValueError, match="as many"):
        agreement(["a"], [])


def test_the_log_feed_returns_only_complete_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "predictions.jsonl"
    log.write_text('{"n": 0}\n')
    feed = LogFeed(log)
    with log.open("a") as stream:
        stream.write('{"n": 1}\n{"n": ')
    assert feed.read() == ['{"n": 1}\n']
    with log.open("a") as stream:
        stream.write("2}\n")
    assert feed.read() == ['{"n": 2}\n']
    log.write_text('{"n": 3}\n')  # rotated: a new, shorter file
    assert feed.read() == ['{"n": 3}\n']


def test_the_summary_shows_the_decision_and_the_smoke_results(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", "kubernetes", actor="ana", version="v2",
                   previous_version="v1", echo=None)  # fmt: skip
    log.record("plan", "info", "deploy v2 on green")
    log.record("smoke:known_answers", "failed", "records [3] differ | by 0.2")
    log.record("decision", "failed", "v2 was not switched to", decision="rejected")
    summary = render_summary(read_entries(tmp_path / "audit.jsonl"))
    assert summary.startswith("## Deployment: rejected")
    assert "| previous version | `v1` |" in summary
    assert "| smoke:known_answers | **FAIL** | records [3] differ \\| by 0.2 |" in summary


def test_the_summary_of_an_interrupted_or_empty_log(tmp_path: Path) -> None:
    assert "No deployment" in render_summary([])
    log = AuditLog(tmp_path / "audit.jsonl", "local", version="v2", echo=None)
    log.record("plan", "info", "deploy v2")
    assert "unfinished" in render_summary(read_entries(tmp_path / "audit.jsonl"))


# -- process groups ------------------------------------------------------------------------------


def test_stop_group_ends_the_whole_tree(tmp_path: Path) -> None:
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    )
    record = processes.spawn([sys.executable, "-c", script], tmp_path / "log")
    deadline = time.monotonic() + 30  # two Python start-ups: seconds on a loaded machine
    while len(processes.group_members(record.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    members = processes.group_members(record.pid)
    try:
        assert len(members) == 2 and processes.alive(record)
    finally:
        processes.stop_tree(record, grace_s=5.0)  # a failed check leaves nothing running
    assert not processes.alive(record) and processes.group_members(record.pid) == []


# A supervisor whose worker runs in a session of its own, as BentoML's do.
SUPERVISOR = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
    "start_new_session=True); time.sleep(60)"
)


def _ours(tag: str) -> list[int]:
    """Every process whose environment carries `tag` (what `ps e` would list)."""
    return sorted(process.pid for process in processes.tagged(tag))


def test_a_worker_in_its_own_group_outlives_its_supervisor_and_is_still_found(
    tmp_path: Path,
) -> None:
    record = processes.spawn([sys.executable, "-c", SUPERVISOR], tmp_path / "log")
    deadline = time.monotonic() + 10
    while len(_ours(record.tag)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = _ours(record.tag)
    [worker] = [pid for pid in before if pid != record.pid]
    assert os.getpgid(worker) != record.pid  # out of reach of a signal to the group
    os.kill(record.pid, signal.SIGKILL)
    while processes.alive(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes.alive(record)
    assert [process.pid for process in processes.tree(record)] == [worker]  # orphaned, running
    processes.stop_tree(record, grace_s=5.0)
    assert _ours(record.tag) == []
    assert _gone(worker)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stop_tree_reaches_a_worker_in_its_own_group(tmp_path: Path) -> None:
    record = processes.spawn([sys.executable, "-c", SUPERVISOR], tmp_path / "log")
    deadline = time.monotonic() + 10
    while len(_ours(record.tag)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_ours(record.tag)) == 2
    processes.stop_tree(record, grace_s=5.0)  # SIGTERM to the group misses the worker
    assert _ours(record.tag) == []


def deaf_supervisor(mark: Path) -> str:
    """A supervisor that ignores SIGTERM and never stops its worker (in a session of its own),
    which writes `mark` and exits on SIGTERM."""
    worker = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: "
        f"(pathlib.Path({str(mark)!r}).write_text('term'), sys.exit(0))); "
        f"pathlib.Path({str(mark)!r}).write_text('listening'); time.sleep(60)"
    )
    return (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"subprocess.Popen([sys.executable, '-c', {worker!r}], start_new_session=True); "
        "time.sleep(60)"
    )


def test_stop_tree_sends_sigterm_to_every_member_before_sigkill(tmp_path: Path) -> None:
    mark = tmp_path / "worker-got-sigterm"
    record = processes.spawn([sys.executable, "-c", deaf_supervisor(mark)], tmp_path / "log")
    deadline = time.monotonic() + 10
    while not mark.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)  # until the worker has its SIGTERM handler
    assert len(_ours(record.tag)) == 2
    killed = processes.stop_tree(record, grace_s=2.0)
    assert mark.read_text() == "term"  # the worker heard SIGTERM itself and stopped gracefully
    assert killed == [record.pid]  # only the deaf supervisor needed SIGKILL
    assert processes.remaining(record) == [] and _ours(record.tag) == []


def test_the_rigs_proc_scan_finds_a_marked_orphan_that_no_state_names(tmp_path: Path) -> None:
    """What the local rig's teardown relies on: a process that left our ancestry (its parent
    exited) and that no state file or tag names is still found by its inherited environment."""
    mark = f"unit-{os.getpid()}"
    env = {**os.environ, RIG_MARK: mark}
    orphaning = "import subprocess, sys; subprocess.Popen(['sleep', '30'], start_new_session=True)"
    subprocess.run([sys.executable, "-c", orphaning], env=env, check=True, timeout=10)
    found = marked_processes(mark)
    for pid in found:
        os.kill(pid, signal.SIGKILL)
    assert len(found) == 1 and not _descends(found[0])


def _descends(pid: int) -> bool:
    return any(parent.pid == os.getpid() for parent in psutil.Process(pid).parents())


def test_exit_reason_reports_the_code(tmp_path: Path) -> None:
    record = processes.spawn([sys.executable, "-c", "raise SystemExit(4)"], tmp_path / "log")
    deadline = time.monotonic() + 10
    while processes.alive(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes.exit_reason(record) == f"process {record.pid} exited with code 4"


# -- the CLI's input errors ----------------------------------------------------------------------


def greenlight(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenlight", *args], cwd=cwd, capture_output=True, text=True,
        check=False, timeout=60,
    )  # fmt: skip


def test_kubernetes_needs_an_image_and_credentials(tmp_path: Path) -> None:
    done = greenlight("deploy", "--target", "kubernetes", cwd=tmp_path)
    assert done.returncode == 2 and "needs --image" in done.stderr


def test_the_summary_command_prints_markdown(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(f"deploy: {{audit_log: {tmp_path / 'audit.jsonl'}}}\n")
    AuditLog(tmp_path / "audit.jsonl", "local", version="v9", echo=None).record(
        "decision", "ok", "v9 is live on blue", decision="deployed"
    )
    done = greenlight("deploy", "summary", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("## Deployment: deployed")


def test_the_serve_command_is_filled_in_from_the_template() -> None:
    line = LocalSettings().serve_line(python="py", bundle="b", port="9", prediction_log="p.jsonl")
    assert line == [
        "py",
        "-m",
        "greenlight",
        "serve",
        "--bundle",
        "b",
        "--host",
        "127.0.0.1",
        "--port",
        "9",
        "--prediction-log",
        "p.jsonl",
    ]


def test_status_where_nothing_was_deployed_starts_no_haproxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`deploy status` brings back a dead HAProxy, but where none ever ran it starts none (it
    used to start one that nobody stopped)."""
    from tests.test_exit_codes import invoke

    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("deploy", "status", "--params", str(tmp_path / "absent.yaml"))
    assert code == 0, err
    assert json.loads(out[: out.rindex("}") + 1])["live"] is None
    ours = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert ours == []
