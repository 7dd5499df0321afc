"""params.yaml as one typed model, `Settings`, and its one loader, `load_settings`: every command
takes the sections it needs from it (`load_settings(path).deploy`, `.drift`, `.serving`, ...).
Strict at every level: a misspelt section or key anywhere, or a bad value, is one SettingsError,
`<file>: <dotted.key>: <problem>`, exit 2."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenlight.config import Params, with_columns
from greenlight.deploy.settings import DeploySettings
from greenlight.monitor.settings import DriftParams, MonitorParams
from greenlight.serving.settings import ServingSettings, environment_values, parse
from greenlight.settings_base import DEFAULT_PARAMS, SettingsError, check, read_yaml
from greenlight.spec import DatasetSpec


class Settings(Params):
    """The whole file, one field a section, each typed by the model its command owns: the
    pipeline's are Params' (greenlight.config, all the stages import), the tools' (config's
    TOOL_SECTIONS) are added here, so that no tool's settings module is a stage's dependency.
    `dataset` is None when read `with_dataset=False`: serve, deploy and the monitors never read
    the data, so they do not need its schema file."""

    dataset: DatasetSpec | None = None
    drift: DriftParams = DriftParams()
    monitor: MonitorParams = MonitorParams()
    serving: ServingSettings = ServingSettings()
    deploy: DeploySettings = DeploySettings()


def load_settings(
    path: Path = DEFAULT_PARAMS, *, with_dataset: bool = True, missing_ok: bool = False
) -> Settings:
    """The params file checked as Settings. `with_dataset`: its dataset section too, with the
    columns of the schema file it names; `missing_ok`: every default where the file is absent
    (serve and deploy run where no params.yaml is: the image, a docker host)."""
    raw = read_sections(path, required=not missing_ok)
    if with_dataset:
        return check(Settings, *with_columns(raw, path))
    return check(Settings, {key: value for key, value in raw.items() if key != "dataset"}, path)


def read_sections(path: Path, required: bool = True) -> dict[str, Any]:
    """The file's top-level mapping, raw, every section name checked ({} where the file is absent
    and not `required`): what the PR report compares with the base's."""
    raw = read_yaml(path) if required or path.is_file() else {}
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping of sections")
    unknown = sorted(str(key) for key in raw if key not in Settings.model_fields)
    if unknown:
        raise SettingsError(
            f"{path}: " + "; ".join(f"{key}: Extra inputs are not permitted" for key in unknown)
        )
    return raw


def resolve_serving(
    path: Path = DEFAULT_PARAMS,
    environ: Mapping[str, str] = os.environ,
    overrides: Mapping[str, object] | None = None,
) -> ServingSettings:
    """Defaults < the params file's `serving:` section < GREENLIGHT_* variables < `overrides` (CLI
    options). Here, not in greenlight.serving.settings: a serving process reads only its
    environment, so the image holds neither this loader nor the other tools' settings."""
    file = load_settings(path, with_dataset=False, missing_ok=True).serving
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    values = {**file.model_dump(exclude_unset=True), **environment_values(environ), **given}
    return parse(values, source="GREENLIGHT_* variables + options", section="serving")
