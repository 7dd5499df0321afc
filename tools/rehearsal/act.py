"""act, run the way the rehearsal needs it: host mode (`-P <label>=-self-hosted` for every label
the workflows use), no cache server, the artifact server on 127.0.0.1, a fresh GITHUB_RUN_ID per
run, and a clean explicit environment (host mode hands act's whole environment to every job).
Its `--json` log is parsed into job results, step results and job summaries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.rehearsal.procs import run_captured

USES = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})\b", re.M)
JOB_HEADER = re.compile(r"^  ([A-Za-z_][\w-]*):\s*(#.*)?$")


@dataclass
class ActRun:
    workflow: str
    event: str
    run_id: int
    code: int
    seconds: float
    log: Path
    jobs: dict[str, str] = field(default_factory=dict)  # job id -> success / failure
    steps: list[dict] = field(default_factory=list)  # each step's job, name, result, seconds
    summaries: dict[str, str] = field(default_factory=dict)
    output: dict[str, list[str]] = field(default_factory=dict)  # job id -> its steps' lines
    started: dict[str, str] = field(default_factory=dict)  # job id -> first log time
    finished: dict[str, str] = field(default_factory=dict)  # job id -> jobResult time

    def result(self, job: str) -> str:
        """success / failure, or skipped when act never started the job."""
        return self.jobs.get(job, "skipped")

    def text(self, job: str) -> str:
        return "".join(self.output.get(job, []))

    def failed_steps(self, job: str) -> list[str]:
        failed = [s["step"] for s in self.steps if s["job"] == job and s["result"] == "failure"]
        return list(dict.fromkeys(failed))


def parse_log(run: ActRun, text: str) -> None:
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # act prints a few plain lines (e.g. a failure to start)
            continue
        job = entry.get("jobID")
        if not isinstance(entry, dict) or not job:
            continue
        run.started.setdefault(job, entry.get("time", ""))
        if "jobResult" in entry:
            run.jobs[job] = entry["jobResult"]
            run.finished[job] = entry.get("time", "")
        elif entry.get("command") == "summary":
            run.summaries[job] = run.summaries.get(job, "") + entry.get("content", "")
        elif "stepResult" in entry and entry.get("stage") == "Main":
            seconds = entry.get("executionTime", 0) / 1e9
            step = {"job": job, "step": entry.get("step", ""), "result": entry["stepResult"]}
            run.steps.append({**step, "seconds": seconds})
        elif entry.get("raw_output"):
            run.output.setdefault(job, []).append(entry.get("msg", ""))


def pinned_actions(workflows: list[Path]) -> dict[str, set[str]]:
    """owner/repo -> the commit SHAs the workflows pin it at."""
    found: dict[str, set[str]] = {}
    for path in workflows:
        for name, sha in USES.findall(path.read_text()):
            found.setdefault(name, set()).add(sha)
    return found


def runner_labels(workflows: list[Path]) -> set[str]:
    """Every literal runs-on label (expressions are resolved by act; their defaults are added)."""
    labels = {"ubuntu-latest", "self-hosted", "linux", "gpu"}
    for path in workflows:
        for job in (yaml.safe_load(path.read_text()).get("jobs") or {}).values():
            runs_on = job.get("runs-on", [])
            for label in [runs_on] if isinstance(runs_on, str) else runs_on:
                if isinstance(label, str) and "${{" not in label:
                    labels.add(label)
    return labels


def environment_jobs(workflows: list[Path], environment: str) -> set[str]:
    """The ids of the jobs that name `environment` (whose reviewers approve them on GitHub)."""
    found = set()
    for path in workflows:
        for name, job in (yaml.safe_load(path.read_text()).get("jobs") or {}).items():
            named = job.get("environment") if isinstance(job, dict) else None
            if (named.get("name") if isinstance(named, dict) else named) == environment:
                found.add(name)
    return found


def inheriting_secrets(text: str, names: set[str]) -> str:
    """The workflow with `secrets: inherit` added to the named jobs that call a workflow: act
    hands a called workflow no secret the caller does not name, not even GITHUB_TOKEN, where
    GitHub gives it GITHUB_TOKEN and its environment jobs that environment's secrets. Checked by
    parsing: nothing else changed."""
    kept, in_jobs = [], False
    for line in text.splitlines(keepends=True):
        in_jobs = bool(re.match(r"^jobs:\s*$", line)) or (in_jobs and not re.match(r"^\S", line))
        kept.append(line)
        header = JOB_HEADER.match(line) if in_jobs else None
        if header and header.group(1) in names:
            kept.append("    secrets: inherit  # added by the rehearsal (act)\n")
    result = "".join(kept)
    before, after = yaml.safe_load(text)["jobs"], yaml.safe_load(result)["jobs"]
    for name in names:
        before[name] = {**before[name], "secrets": "inherit"}
    if after != before or any("uses" not in before[name] for name in names):
        raise ValueError(f"adding `secrets: inherit` to {sorted(names)} changed more")
    return result


def without_outputs(text: str, job: str) -> str:
    """The workflow with `job`'s `outputs:` cut, for a run in which it is skipped: GitHub gives a
    skipped job's outputs as empty, act as the unevaluated `${{ steps... }}` text (nektos/act#2467),
    which an `a || b` fallback then takes. Checked by parsing: nothing else changed."""
    kept, in_job, cutting = [], False, False
    for line in text.splitlines(keepends=True):
        header = JOB_HEADER.match(line)
        in_job = header.group(1) == job if header else in_job
        if in_job and line.rstrip() == "    outputs:":
            cutting = True
            continue
        cutting = cutting and line.startswith("      ")
        if not cutting:
            kept.append(line)
    result = "".join(kept)
    before, after = yaml.safe_load(text)["jobs"], yaml.safe_load(result)["jobs"]
    expected = {**before, job: {k: v for k, v in before[job].items() if k != "outputs"}}
    if after != expected:
        raise ValueError(f"cutting the outputs of {job} changed more")
    return result


def without_jobs(text: str, names: set[str]) -> str:
    """The workflow with the named top-level jobs cut out, every other line unchanged; checked
    by parsing: the remaining jobs are exactly the original ones, field for field."""
    kept, skipping, in_jobs = [], False, False
    for line in text.splitlines(keepends=True):
        if re.match(r"^jobs:\s*$", line):
            in_jobs = True
        elif in_jobs and re.match(r"^\S", line):
            in_jobs = False
        header = JOB_HEADER.match(line) if in_jobs else None
        if header:
            skipping = header.group(1) in names
        if not skipping:
            kept.append(line)
    result = "".join(kept)
    before = yaml.safe_load(text)["jobs"]
    after = yaml.safe_load(result)["jobs"]
    expected = {name: job for name, job in before.items() if name not in names}
    if after != expected:
        raise ValueError(f"cutting jobs {sorted(names)} changed the other jobs")
    return result


@dataclass
class Act:
    binary: Path
    repo: Path  # act's working directory: the scratch checkout of the event's commit
    env: dict[str, str]  # act's own (clean) environment
    job_env: dict[str, str]  # --env for every job
    local_actions: dict[str, Path]  # "owner/repo@sha" -> stand-in folder
    labels: set[str]
    artifact_dir: Path
    artifact_port: int
    logs: Path
    secrets: dict[str, str] = field(default_factory=dict)
    next_run_id: int = 1000

    def run(
        self,
        workflow: Path,
        event: str,
        payload: dict,
        variables: dict[str, str],
        *,
        actor: str = "alice",
        timeout_s: float = 1800,
    ) -> ActRun:
        self.next_run_id += 1
        run_id = self.next_run_id
        event_path = self.logs / f"event-{run_id}.json"
        event_path.parent.mkdir(parents=True, exist_ok=True)
        event_path.write_text(json.dumps(payload, indent=2))
        argv = [str(self.binary), event, "--json", "-W", str(workflow), "-e", str(event_path)]
        argv += ["--no-cache-server", "--container-daemon-socket", "-", "--actor", actor]
        argv += ["--defaultbranch", "main"]
        argv += ["--artifact-server-addr", "127.0.0.1"]
        argv += ["--artifact-server-port", str(self.artifact_port)]
        argv += ["--artifact-server-path", str(self.artifact_dir)]
        for label in sorted(self.labels):
            argv += ["-P", f"{label}=-self-hosted"]
        for key, value in {**self.job_env, "GITHUB_RUN_ID": str(run_id)}.items():
            argv += ["--env", f"{key}={value}"]
        for key, value in self.secrets.items():
            argv += ["--secret", f"{key}={value}"]
        for key, value in variables.items():
            argv += ["--var", f"{key}={value}"]
        for spec, folder in self.local_actions.items():
            argv += ["--local-repository", f"{spec}={folder}"]
        log = self.logs / f"act-{run_id}-{workflow.stem}-{event}.jsonl"
        code, text, seconds = run_captured(argv, log, self.env, self.repo, timeout_s)
        run = ActRun(workflow.name, event, run_id, code, seconds, log)
        parse_log(run, text)
        return run
