"""MLflow itself storing and loading artifacts and models through ``governed://``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from governance.keys import LocalKeyring
from governance.store import SealedStore


@pytest.fixture
def governed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SealedStore:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOVERNANCE_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("GOVERNANCE_KEYRING", str(tmp_path / "keys"))
    keys = LocalKeyring(tmp_path / "keys")
    keys.init()
    return SealedStore(tmp_path / "store", keys)


def test_mlflow_logs_and_loads_through_the_sealed_store(
    governed: SealedStore, tmp_path: Path
) -> None:
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment("sealed", artifact_location="governed:///sealed")
    note = tmp_path / "note.txt"
    note.write_text("a confidential note")
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifact(str(note), artifact_path="docs")
        mlflow.log_dict({"secret": "value"}, "config/settings.json")
        info = mlflow.sklearn.log_model(
            model, name="model", pip_requirements=["scikit-learn"],
            serialization_format="cloudpickle",
        )  # fmt: skip

    names = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert names == ["config", "docs"]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "docs")] == ["docs/note.txt"]
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="docs/note.txt", dst_path=str(tmp_path / "dl")
    )
    assert Path(local).read_text() == "a confidential note"
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert (loaded.predict(X) == model.predict(X)).all()

    stored = governed.list()
    assert len(stored) >= 5
    assert all(i.name.startswith("sealed/") for i in stored)
    assert set(governed.verify().values()) == {"ok"}
    for path in (tmp_path / "store" / "objects").glob("*.sealed"):
        assert b"confidential" not in path.read_bytes()
        assert b'"secret"' not in path.read_bytes()
