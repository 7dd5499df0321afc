"""A stand-in for `greenlight serve` with the same endpoints, and faults to inject: it answers the
bundle's known answers from its manifest (other records get 0.5). A `stub.json` in the bundle
makes that version misbehave, so the fault travels with the release being deployed:
{"never_ready": true} | {"skew": 0.2} | {"fail_flag": "/path"} (500s once the file exists) |
{"exit_code": 3} | {"startup_delay": 1.5} | {"default_probability": 0.2} (records it does not
know; 0.5 otherwise) | {"age_rule": [50, 0.9, 0.1]} (records it does not know: the first
probability from age 50 on, the second below) | {"refuse": "why"} (never ready, /predict
answers 503 with that error, as `greenlight serve` does when its bundle fails its own checks).

Run: python stub_service.py --bundle DIR --port N [--prediction-log PATH]"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from greenlight.logformat import LoggedPrediction, stamp


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prediction-log", type=Path)
    options = parser.parse_args()
    behaviour = options.bundle / "stub.json"
    faults = json.loads(behaviour.read_text()) if behaviour.is_file() else {}
    options.never_ready = bool(faults.get("never_ready", False))
    options.skew = float(faults.get("skew", 0.0))
    options.fail_flag = Path(faults["fail_flag"]) if faults.get("fail_flag") else None
    options.startup_delay = float(faults.get("startup_delay", 0.0))
    options.exit_code = faults.get("exit_code")
    options.default_probability = float(faults.get("default_probability", 0.5))
    options.refuse = faults.get("refuse")
    options.age_rule = faults.get("age_rule")
    return options


class Stub:
    def __init__(self, options: argparse.Namespace) -> None:
        manifest = json.loads((options.bundle / "manifest.json").read_text())
        self.options = options
        self.version = manifest["model_version"]
        answers = manifest["known_answers"]
        self.answers = {_key(item["record"]): item["probability"] for item in answers}
        self.ready_at = time.monotonic() + options.startup_delay

    def probability(self, record: dict[str, Any]) -> float:
        known = self.answers.get(_key(record), self.unknown(record))
        return min(1.0, max(0.0, known + self.options.skew))

    def unknown(self, record: dict[str, Any]) -> float:
        if self.options.age_rule is None:
            return self.options.default_probability
        age, above, below = self.options.age_rule
        return float(above if record.get("age", 0) >= age else below)

    def predict(self, body: bytes) -> tuple[int, dict[str, Any]]:
        if self.options.refuse:
            return 503, {"error": f"not ready: {self.options.refuse}"}
        flag = self.options.fail_flag
        if flag is not None and flag.exists():
            return 500, {"error": "injected fault"}
        records = json.loads(body)["records"]
        predictions = [
            {"label": ">50K" if (p := self.probability(r)) >= 0.5 else "<=50K", "probability": p}
            for r in records
        ]
        self.log(records, predictions)
        return 200, {"model_version": self.version, "predictions": predictions}

    def log(self, records: list[dict[str, Any]], predictions: list[dict[str, Any]]) -> None:
        if self.options.prediction_log is None:
            return
        self.options.prediction_log.parent.mkdir(parents=True, exist_ok=True)
        moment, request_id = stamp(datetime.now(UTC)), uuid.uuid4().hex
        with self.options.prediction_log.open("a") as stream:
            for record, prediction in zip(records, predictions, strict=True):
                label, probability = prediction["label"], prediction["probability"]
                logged = LoggedPrediction(
                    moment, request_id, self.version, record, label, probability
                )
                stream.write(logged.line())

    def ready(self) -> bool:
        refusing = self.options.never_ready or self.options.refuse
        return not refusing and time.monotonic() >= self.ready_at

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload = self.route(scope["method"], scope["path"], body)
        data = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    def route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/livez":
            return 200, {"status": "alive"}
        if path == "/readyz":
            return (200, {"status": "ready"}) if self.ready() else (503, {"status": "starting"})
        if path == "/metrics":
            return 200, {}
        if path == "/predict" and method == "POST":
            return self.predict(body)
        return 404, {"error": "not found"}


def _key(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


if __name__ == "__main__":
    options = parse()
    if options.exit_code is not None:
        raise SystemExit(int(options.exit_code))
    uvicorn.run(Stub(options), host="127.0.0.1", port=options.port, log_level="warning")
