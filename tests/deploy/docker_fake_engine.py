"""The docker CLI played by processes of ours, for the docker target's tests without an engine:
`run` starts the stub service (stub_service.py) of the bundle an image digest stands for, on the
port and prediction log its environment names, inside a directory that stands for the container
(<fs>/<name>/: its volume and the bundle's manifest where the image holds it); `inspect` answers
from those processes, `cp` copies out of that directory, `stop` and `rm` stop one by PID."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

from deploy_rig import STUB

from greenlight.deploy.settings import DockerSettings
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.docker_engine import ContainerInfo, parse_inspect
from greenlight.manifest import MANIFEST


class ProcessEngine:
    def __init__(self, fs: Path, images: dict[str, Path]) -> None:
        self.fs, self.images = fs, images  # image digest -> the bundle it serves
        self.containers: dict[str, dict[str, Any]] = {}  # name -> id, record, labels, image

    def __call__(self, *args: str, check: bool = True) -> str:
        handler = getattr(self, f"_{args[0]}", None)
        return str(handler(*args[1:])) if handler else ""

    def inside(self, name: str, path: str) -> Path:
        return self.fs / name / path.lstrip("/")

    def _run(self, *args: str) -> str:
        name = args[args.index("--name") + 1]
        image = next(part for part in args if part in self.images)
        pairs = [args[i + 1] for i, part in enumerate(args) if part == "--env"]
        env = dict(pair.split("=", 1) for pair in pairs)
        labels = [args[i + 1] for i, part in enumerate(args) if part == "--label"]
        bundle, log = self.images[image], self.inside(name, env["GREENLIGHT_PREDICTION_LOG"])
        manifest = self.inside(name, DockerSettings().bundle_dir) / MANIFEST
        manifest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(bundle / MANIFEST, manifest)
        command = [sys.executable, str(STUB), "--bundle", str(bundle), "--port"]
        command += [env["BENTOML_PORT"], "--prediction-log", str(log)]
        record = processes.spawn(command, self.fs / f"{name}.out")
        ident = uuid.uuid4().hex * 2
        self.containers[name] = {"id": ident, "record": record, "labels": labels, "image": image}
        return ident

    def _stop(self, *args: str) -> str:
        for name in args:
            if name in self.containers:
                processes.stop_tree(self.containers[name]["record"], grace_s=5.0)
        return ""

    def _rm(self, *args: str) -> str:
        names = [name for name in args if not name.startswith("--")]
        self._stop(*names)
        for name in names:
            self.containers.pop(name, None)
        return ""

    def _cp(self, source: str, destination: str) -> str:
        name, path = source.split(":", 1)
        found = self.inside(name, path)
        if name in self.containers and found.is_file():
            shutil.copy(found, destination)
        return ""

    def inspect(self, names: list[str]) -> dict[str, ContainerInfo]:
        items = [self._item(name) for name in names if name in self.containers]
        return {info.name: info for info in parse_inspect(json.dumps(items))}

    def _item(self, name: str) -> dict[str, Any]:
        container = self.containers[name]
        alive = processes.alive(container["record"])
        state = {"Status": "running" if alive else "exited", "Running": alive, "ExitCode": 0}
        labels = dict(label.split("=", 1) for label in container["labels"])
        config = {"Image": container["image"], "Labels": labels}
        return {"Id": container["id"], "Name": f"/{name}", "State": state, "Config": config}

    def labelled(self, kind: str, label: str) -> list[str]:
        if kind != "container":
            return []
        return [name for name, c in self.containers.items() if label in c["labels"]]

    def image_user(self, reference: str) -> str:
        return "65532:65532"

    def close(self) -> None:
        """Stop whatever still runs (a test that failed half way)."""
        self._rm(*list(self.containers))
