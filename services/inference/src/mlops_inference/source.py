"""Where the served model comes from: a ``.onnx`` file or the MLflow registry.

A ``models:/name@alias`` or ``models:/name/version`` URI names a registry version, downloaded
into a cache folder; anything else is a path to a ``.onnx`` file (or a folder holding one),
whose version is its content hash, so a changed file is a new version. A registry version may
carry ``model-spec.json`` in its run (:meth:`ModelSource.fetch_spec`); a file has none. The
methods of :class:`ModelSource` block (they may ask MLflow or read a whole file): call them in
a thread.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, ModelSpec, ModelSpecError, load_spec
from mlops_inference.errors import ModelLoadError

_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """A parsed ``models:/name@alias`` or ``models:/name/version`` URI."""

    name: str
    alias: str | None
    version: str | None


def parse_registry_uri(uri: str) -> RegistryRef | None:
    """Parse a ``models:/`` URI; ``None`` for anything else (a file path)."""
    match = _REGISTRY_URI.match(uri)
    if match is None:
        return None
    return RegistryRef(match["name"], match["alias"], match["version"])


def file_version(path: Path) -> str:
    """The version of a model file: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def onnx_file(path: Path) -> Path:
    """``path`` itself when it is a file, else the first ``.onnx`` file under the folder."""
    if not path.exists():
        raise ModelLoadError(f"model path {path} does not exist")
    if path.is_file():
        return path
    files = sorted(path.rglob("*.onnx"))
    if not files:
        raise ModelLoadError(f"no .onnx file in {path}")
    return files[0]


class ModelSource:
    """The model a URI names: which version it is now, and that version's local ``.onnx`` file."""

    def __init__(self, uri: str, tracking_uri: str, cache_dir: Path) -> None:
        self.uri = uri
        #: The parsed ``models:/`` reference, or ``None`` for a file.
        self.ref = parse_registry_uri(uri)
        self._tracking_uri = tracking_uri
        self._cache_dir = cache_dir

    def current_version(self) -> str:
        """The version the URI names now: the pinned one, the alias's (asks MLflow), or the hash."""
        if self.ref is None:
            return file_version(onnx_file(Path(self.uri)))
        if self.ref.version is not None:
            return self.ref.version
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self._tracking_uri, registry_uri=self._tracking_uri)
        return str(client.get_model_version_by_alias(self.ref.name, self.ref.alias or "").version)

    def fetch(self, version: str) -> Path:
        """The local ``.onnx`` file of ``version``, downloaded from MLflow for a registry URI."""
        if self.ref is None:
            return onnx_file(Path(self.uri))
        import mlflow

        dst = self._cache_dir / self.ref.name / version
        dst.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{self.ref.name}/{version}",
            dst_path=str(dst),
            tracking_uri=self._tracking_uri,
        )
        return onnx_file(Path(local))

    def fetch_spec(self, version: str) -> ModelSpec | None:
        """The validated ``model-spec.json`` of ``version``'s run; ``None`` if it has none.

        Raises :class:`ModelLoadError` for a spec that is there but invalid (naming the field).
        """
        if self.ref is None:
            return None
        import mlflow
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self._tracking_uri, registry_uri=self._tracking_uri)
        run_id = client.get_model_version(self.ref.name, version).run_id
        if not run_id or MODEL_SPEC_ARTIFACT not in {a.path for a in client.list_artifacts(run_id)}:
            return None
        dst = self._cache_dir / self.ref.name / f"{version}-spec"
        dst.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=MODEL_SPEC_ARTIFACT,
            dst_path=str(dst),
            tracking_uri=self._tracking_uri,
        )
        try:
            return load_spec(Path(local))
        except ModelSpecError as exc:
            raise ModelLoadError(
                f"models:/{self.ref.name}/{version} has an invalid {MODEL_SPEC_ARTIFACT}: {exc}"
            ) from exc
