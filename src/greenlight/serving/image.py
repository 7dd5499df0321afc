"""The serving image's inputs, made on the host before the build: the hash-locked serving closure
(deploy/image/requirements.txt), the wheelhouse of exactly those wheels, and the build context
(build/image/context/) with the modules a serving process imports and the hash-checked bundle.
The build itself (image_build.py) then needs no network."""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

import greenlight
from greenlight.manifest import read_manifest
from greenlight.paths import BUNDLE
from greenlight.safe_load import verify_sha256
from greenlight.serving.bento import LOCK, BuildToolError, PackagingError, serving_requirements

IMAGE_LOCK = Path("deploy/image/requirements.txt")
WHEELHOUSE = Path("build/wheelhouse")
CONTEXT = Path("build/image/context")
SERVICE_MODULE = "greenlight.serving.service"
# The image's Python and platform: CPython 3.11 on Debian bookworm (glibc 2.36), x86_64.
PYTHON_VERSION = "3.11"
GLIBC_MINOR = 36
IMAGE_KINDS = ("hgb", "logreg")  # scikit-learn models; an mlp needs torch, not locked for images
# uv's options for the image lock, pip's for the wheelhouse: the image's Python and platform.
COMPILE_OPTIONS = (
    "--quiet --no-deps --generate-hashes --no-header --no-annotate"
    f" --python-version {PYTHON_VERSION} --python-platform x86_64-manylinux_2_28"
).split()
DOWNLOAD_OPTIONS = (
    "--quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes"
    f" --python-version {PYTHON_VERSION} --implementation cp --abi cp311"
).split()
LOCK_HEADER = (
    "# The serving image's dependencies: requirements.lock's pins of the serving closure of a\n"
    "# scikit-learn bundle, with the hashes of their files. Regenerate: make image-lock\n"
)


def platform_options() -> list[str]:
    """pip's --platform for every manylinux tag an x86_64 glibc 2.36 system accepts (pip does
    not widen one given --platform to the older tags it implies)."""
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR, 16, -1)]
    tags += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    return [option for tag in tags for option in ("--platform", tag)]


def lock_image_requirements(lock: Path = LOCK, output: Path = IMAGE_LOCK) -> Path:
    """Write `output`: the lock's pins of the serving closure, each with its files' hashes (from
    the package index: needs it, like `make lock`)."""
    pins = serving_requirements("hgb", lock)
    output.parent.mkdir(parents=True, exist_ok=True)
    pinned = output.with_suffix(".in")
    pinned.write_text("\n".join(pins) + "\n")
    command = [sys.executable, "-m", "uv", "pip", "compile", *COMPILE_OPTIONS, str(pinned)]
    command += ["-o", str(output)]
    try:
        _run(command, "uv pip compile")
    finally:
        pinned.unlink()
    output.write_text(LOCK_HEADER + output.read_text())
    return output


def locked_versions(text: str) -> dict[str, str]:
    """canonical name -> version of the pins in a requirements file (hashes or not)."""
    versions = {}
    for line in text.splitlines():
        if "==" in line and not line.lstrip().startswith(("#", "--")):
            name, _, version = line.split("\\")[0].strip().partition("==")
            versions[canonicalize_name(name)] = version.strip()
    return versions


def check_image_lock(model_kind: str, lock: Path = LOCK, image_lock: Path = IMAGE_LOCK) -> None:
    """PackagingError unless the image lock pins exactly the serving closure the lock pins."""
    if model_kind not in IMAGE_KINDS:
        raise PackagingError(
            f"a {model_kind} bundle needs torch, and {image_lock} locks the image's wheels for "
            f"scikit-learn bundles ({', '.join(IMAGE_KINDS)}) only: serve it with `make serve`"
        )
    if not image_lock.is_file():
        raise PackagingError(f"{image_lock} is missing: run `make image-lock`")
    wanted = locked_versions("\n".join(serving_requirements(model_kind, lock))).items()
    locked = locked_versions(image_lock.read_text()).items()
    if wanted != locked:
        difference = sorted(f"{name}=={version}" for name, version in wanted ^ locked)
        raise PackagingError(
            f"{image_lock} and {lock} disagree on {difference}: run `make image-lock`"
        )


def gather_wheelhouse(image_lock: Path = IMAGE_LOCK, wheelhouse: Path = WHEELHOUSE) -> Path:
    """Download the image lock's wheels (binary only, for the image's platform), every file
    checked against its locked hash; files already there and matching are kept."""
    command = [sys.executable, "-m", "pip", "download", *DOWNLOAD_OPTIONS, *platform_options()]
    command += ["-r", str(image_lock), "-d", str(wheelhouse)]
    _run(command, "pip download")
    return wheelhouse


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildToolError(f"{what} failed:\n{result.stdout}{result.stderr}")


def locked_wheels(wheelhouse: Path, image_lock: Path = IMAGE_LOCK) -> list[Path]:
    """The wheelhouse's files of the locked versions, one per pin; PackagingError naming the
    pins that have none (run `make wheelhouse`)."""
    versions = locked_versions(image_lock.read_text())
    found: dict[str, Path] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        if versions.get(name) == str(version):
            found.setdefault(name, wheel)
    missing = sorted(set(versions) - set(found))
    if missing:
        raise PackagingError(f"{wheelhouse} has no wheel for {missing}: run `make wheelhouse`")
    return list(found.values())


def module_file(package_root: Path, module: str) -> Path | None:
    """The source file of greenlight module `module` (a package's __init__.py), if any."""
    parts = module.split(".")[1:]
    if not parts:
        return Path("__init__.py")
    for candidate in (Path(*parts).with_suffix(".py"), Path(*parts, "__init__.py")):
        if (package_root / candidate).is_file():
            return candidate
    return None


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """The greenlight modules `source` imports (also inside functions), its parent packages."""
    package = module if is_package else module.rpartition(".")[0]
    names = {".".join(module.split(".")[:depth]) for depth in range(1, module.count(".") + 1)}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == "greenlight"}


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def service_files(package_root: Path, root_module: str = SERVICE_MODULE) -> list[Path]:
    """The files, relative to `package_root`, of `root_module` and every greenlight module it
    imports directly or not: what a serving process can import, and nothing of training."""
    pending, seen, files = [root_module], set(), set()
    while pending:
        module = pending.pop()
        found = None if module in seen else module_file(package_root, module)
        seen.add(module)
        if found is None:
            continue  # a name imported from a module, not a module itself
        files.add(found)
        source = (package_root / found).read_text()
        pending.extend(imported_modules(source, module, found.name == "__init__.py"))
    return sorted(files)


def stage_context(bundle: Path, context: Path = CONTEXT, wheelhouse: Path = WHEELHOUSE) -> dict:
    """Fill `context` for deploy/image/Dockerfile; return the bundle's manifest."""
    manifest = read_manifest(bundle)
    for entry in manifest["artifacts"].values():
        verify_sha256(bundle / entry["file"], entry["sha256"])
    check_image_lock(manifest["model"]["kind"])
    wheels = locked_wheels(wheelhouse)
    if context.exists():
        shutil.rmtree(context)
    (context / "wheelhouse").mkdir(parents=True)
    for wheel in wheels:
        _link(wheel, context / "wheelhouse" / wheel.name)
    shutil.copyfile(IMAGE_LOCK, context / "requirements.txt")
    package = Path(greenlight.__file__).parent
    for relative in service_files(package):
        (context / "app/greenlight" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package / relative, context / "app/greenlight" / relative)
    shutil.copytree(bundle, context / "app" / BUNDLE)
    readable_by_all(context / "app")
    return manifest


def readable_by_all(root: Path) -> None:
    """Directories 0755, files 0644: the image's user reads them (a DVC checkout can be 0600),
    owned by root, so it cannot change them."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _link(source: Path, target: Path) -> None:
    """A hard link (the wheelhouse is large), a copy across file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def context_digest(context: Path, *extra: str) -> str:
    """sha256 over the context's paths and bytes and `extra` (the Dockerfile, the base image's
    ID): equal digests build equal images, so a test can reuse one."""
    digest = hashlib.sha256()
    for value in extra:
        digest.update(value.encode() + b"\0")
    for path in sorted(context.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(context).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
