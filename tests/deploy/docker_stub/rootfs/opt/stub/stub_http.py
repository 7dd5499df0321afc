"""A stand-in for `greenlight serve` inside a container, stdlib only: GET /livez, /readyz,
/metrics, POST /predict (its X-Request-ID answer header names the request) and POST /feedback
({"request_id", "label"}: 201, appended to outcomes.jsonl beside the prediction log; 404 for a
request it did not log), HTTP/1.1 keep-alive, a prediction log line per record. What it answers
comes from the environment: GREENLIGHT_STUB_MANIFEST (model_version, known_answers: other records
get 0.5) and GREENLIGHT_STUB_FAULT ({"startup_delay": s} | {"exit_code": n} |
{"default_probability": p} | {"age_rule": [age, p_from, p_below]}: other records' probability);
where it listens and logs, as the serving image: BENTOML_HOST, BENTOML_PORT,
GREENLIGHT_PREDICTION_LOG.
SIGTERM stops it gracefully: requests in flight are answered first.

Run: python3 stub_http.py [--host H --port N --prediction-log PATH] | --probe (the HEALTHCHECK)"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def stamp():
    """Now, as greenlight's prediction log writes it (docs/prediction-log.md)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key(record):
    return json.dumps(record, sort_keys=True)


class Stub:
    def __init__(self, options):
        manifest = json.loads(os.environ["GREENLIGHT_STUB_MANIFEST"])
        self.fault = json.loads(os.environ.get("GREENLIGHT_STUB_FAULT") or "{}")
        self.version = manifest["model_version"]
        self.answers = {key(a["record"]): a["probability"] for a in manifest["known_answers"]}
        self.ready_at = time.monotonic() + float(self.fault.get("startup_delay", 0))
        self.log_path = options.prediction_log
        self.lock = threading.Lock()
        self.counts = {}
        self.active = 0  # requests being answered: a graceful stop waits for them
        self.logged = set()  # request ids of the predictions it logged

    def unknown(self, record):
        if "age_rule" not in self.fault:
            return float(self.fault.get("default_probability", 0.5))
        age, above, below = self.fault["age_rule"]
        return float(above if record.get("age", 0) >= age else below)

    def predict(self, body):
        records = json.loads(body)["records"]
        predictions = []
        for record in records:
            p = self.answers.get(key(record), self.unknown(record))
            predictions.append({"label": ">50K" if p >= 0.5 else "<=50K", "probability": p})
        request_id = uuid.uuid4().hex
        if self.log_path:
            head = {"log_format": 1, "timestamp": stamp(), "request_id": request_id}
            head["model_version"] = self.version
            lines = [
                json.dumps({**head, "features": r, "prediction": p}) + "\n"
                for r, p in zip(records, predictions, strict=True)
            ]
            with self.lock, Path(self.log_path).open("a") as stream:
                stream.writelines(lines)
                self.logged.add(request_id)
        return 200, {"model_version": self.version, "predictions": predictions}, request_id

    def feedback(self, body):
        """One outcome line (the outcome log's format 1) for a request it logged."""
        given = json.loads(body)
        if given.get("label") not in (">50K", "<=50K"):
            return 422, {"error": f"label {given.get('label')!r} is not a label of this model"}
        if given.get("request_id") not in self.logged:
            return 404, {"error": f"request {given.get('request_id')!r} is not in the log"}
        line = {"outcome_format": 1, "imported_at": stamp(), "request_id": given["request_id"]}
        line.update(record=int(given.get("record", 0)), label=given["label"])
        with self.lock, Path(self.log_path).with_name("outcomes.jsonl").open("a") as stream:
            stream.write(json.dumps(line) + "\n")
        return 201, {"recorded": 1}

    @contextlib.contextmanager
    def busy(self):
        with self.lock:
            self.active += 1
        try:
            yield
        finally:
            with self.lock:
                self.active -= 1

    def count(self, path, status):
        with self.lock:
            self.counts[(path, status)] = self.counts.get((path, status), 0) + 1

    def metrics(self):
        name = "bentoml_service_request_total"
        lines = [f"# TYPE {name} counter"] + [
            f'{name}{{endpoint="{path}",http_response_code="{status}"}} {n}'
            for (path, status), n in sorted(self.counts.items())
        ]
        return "\n".join(lines) + "\n"


def handler(stub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            return

        def answer(self, status, payload, content_type="application/json", request_id=None):
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            if request_id:
                self.send_header("X-Request-ID", request_id)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with stub.busy():
                self.get()

        def do_POST(self):
            with stub.busy():
                self.post()

        def get(self):
            if self.path == "/livez":
                return self.answer(200, {"status": "alive"})
            if self.path == "/readyz":
                ready = time.monotonic() >= stub.ready_at
                return self.answer(
                    200 if ready else 503, {"status": "ready" if ready else "starting"}
                )
            if self.path == "/metrics":
                return self.answer(200, stub.metrics(), "text/plain; version=0.0.4")
            return self.answer(404, {"error": "not found"})

        def post(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/feedback":
                return self.answer(*stub.feedback(body))
            if self.path != "/predict":
                return self.answer(404, {"error": "not found"})
            status, payload, request_id = stub.predict(body)
            stub.count("/predict", status)
            return self.answer(status, payload, request_id=request_id)

    return Handler


def probe():
    port = os.environ.get("BENTOML_PORT", "3000")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)


def main():
    parser = argparse.ArgumentParser()
    env = os.environ
    parser.add_argument("--host", default=env.get("BENTOML_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("BENTOML_PORT", "3000")))
    parser.add_argument("--prediction-log", default=env.get("GREENLIGHT_PREDICTION_LOG"))
    parser.add_argument("--probe", action="store_true")
    options = parser.parse_args()
    if options.probe:
        return probe()
    stub = Stub(options)
    if "exit_code" in stub.fault:
        sys.exit(int(stub.fault["exit_code"]))
    server = ThreadingHTTPServer((options.host, options.port), handler(stub))
    server.daemon_threads = True  # idle keep-alive connections do not hold the exit
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"stub {stub.version} on {options.host}:{options.port}", flush=True)
    server.serve_forever()
    deadline = time.monotonic() + 10
    while stub.active and time.monotonic() < deadline:  # answer what is in flight, then exit
        time.sleep(0.05)
    print(f"stub {stub.version} stopped", flush=True)


if __name__ == "__main__":
    main()
