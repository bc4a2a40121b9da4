"""The news task end to end in a throwaway MLflow store: a user's CSV, and the BBC articles with
the parity of the serving path (the registered graph, raw text in) and the training path."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime as ort
import pytest

from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, load_spec
from mlops_common.news_spec import BBC_CLASSES, NEWS_MODEL_NAME
from mlops_common.registry import ALIAS_PRODUCTION, REFERENCE_ARTIFACT
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_trainer.config import compose_config
from mlops_trainer.data import DatasetError
from mlops_trainer.news_data import load_bbc
from mlops_trainer.pipeline import run_pipeline
from mlops_trainer.registry import make_client
from mlops_trainer.settings import TrainerSettings
from mlops_trainer.text_export import export_news_onnx, text_parity
from mlops_trainer.text_model import NewsBagClassifier
from mlops_trainer.train import train

pytestmark = pytest.mark.integration

WORDS = {
    "fake": ["shocking", "secret", "miracle", "hoax", "aliens", "exposed"],
    "real": ["minister", "report", "quarterly", "council", "announced", "budget"],
}
FILLER = ["the", "a", "of", "today", "people", "said", "new", "city"]


def _article(label: str, rng: random.Random) -> tuple[str, str]:
    words = [rng.choice(WORDS[label]) for _ in range(4)] + rng.sample(FILLER, 5)
    rng.shuffle(words)
    return " ".join(words[:4]).title(), " ".join(words) + f" {rng.randint(0, 10**9)}."


@pytest.fixture
def settings(mlflow_store: MlflowStore, tmp_path: Path) -> TrainerSettings:
    return TrainerSettings(
        state_dir=tmp_path / "state",
        mlflow_tracking_uri=mlflow_store.tracking_uri,
        artifact_root=mlflow_store.artifact_root,
    )


def test_a_users_csv_trains_registers_and_serves_raw_text(
    settings: TrainerSettings, mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    rng = random.Random(0)
    path = tmp_path / "news.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "text", "class"])
        for i in range(200):
            label = "fake" if i % 2 else "real"
            writer.writerow([*_article(label, rng), label])
    cfg = compose_config(
        ["task=news", "data=news_csv", f"data.path={path}", "trainer.max_epochs=8",
         "trainer.enable_progress_bar=false", "reference.rows=60"]
    )  # fmt: skip
    result = run_pipeline(cfg, settings=settings)
    assert result.version == "1"
    assert result.promoted
    assert result.metrics["test_accuracy"] >= 0.95
    assert result.parity["ok"]

    client = make_client(mlflow_store.tracking_uri)
    version = client.get_model_version_by_alias(NEWS_MODEL_NAME, ALIAS_PRODUCTION)
    run_id = version.run_id
    spec = load_spec(
        Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=MODEL_SPEC_ARTIFACT,
                tracking_uri=mlflow_store.tracking_uri,
            )
        )
    )
    assert spec.classes == ["fake", "real"]
    assert spec.input.kind == "text"
    reference = mlflow.artifacts.load_text(f"runs:/{run_id}/{REFERENCE_ARTIFACT}")
    header = next(csv.reader(io.StringIO(reference)))
    assert header == [*spec.monitored_names[:-2], "label", "prediction", "confidence"]

    model = Path(mlflow.artifacts.download_artifacts(f"models:/{NEWS_MODEL_NAME}/1"))
    session = ort.InferenceSession(str(model / "model.onnx"), providers=["CPUExecutionProvider"])
    texts = np.array(["SHOCKING secret miracle exposed", "The minister announced a budget"], object)
    probabilities = session.run(["probabilities"], {"text": texts})[0]
    assert [spec.classes[i] for i in probabilities.argmax(1)] == ["fake", "real"]

    # Retraining the same model on data with other classes is refused before registering.
    other = tmp_path / "other.csv"
    other.write_text(path.read_text().replace(",fake\n", ",satire\n"), encoding="utf-8")
    cfg = compose_config(
        ["task=news", "data=news_csv", f"data.path={other}", "trainer.max_epochs=1"]
    )
    with pytest.raises(DatasetError, match="not model 'news-classifier'"):
        run_pipeline(cfg, settings=settings)
    assert [str(v.version) for v in client.search_model_versions(f"name='{NEWS_MODEL_NAME}'")] == [
        "1"
    ]


@pytest.mark.slow
def test_serving_and_training_paths_agree_on_every_bbc_article(tmp_path: Path) -> None:
    cfg = compose_config(["task=news", "trainer.max_epochs=4", "trainer.enable_progress_bar=false"])
    trained = train(cfg)
    network = trained.network
    assert isinstance(network, NewsBagClassifier)
    path = tmp_path / "news.onnx"
    export_news_onnx(network, path)
    corpus = load_bbc()
    assert len(corpus.texts) > 2100
    parity = text_parity(path, network, corpus.texts.tolist())
    assert parity.texts == len(corpus.texts)
    assert parity.ids_differ == 0
    assert parity.labels_differ == 0
    assert parity.max_abs_diff < 1e-5
    assert trained.manifest.classes == list(BBC_CLASSES)
