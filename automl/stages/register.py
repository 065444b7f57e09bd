"""Stage ``register``: the promotion gates, then a new model version with alias ``candidate``.

The gates (``register.gates``: test metrics, CV-test gap, fairness gaps, monitoring status) are
measured on the evaluate and monitor stages' outputs. Every outcome is audited
(``model.gates`` on the sealed model's object id). A model that fails is tagged on its MLflow
run with the reasons and the stage fails (exit 8); one that passes becomes version N of
``tracking.registered_model``, aliased ``candidate`` (audited as ``model.alias``), with its
dossier (automl/dossier.py: the evidence of the compliance report) sealed into the store and
its hash in the ``model.register`` entry. ``governance approve`` promotes it to ``champion``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from automl.config import Params
from automl.dossier import Inputs, build_dossier
from automl.exceptions import GateError
from automl.gates import check_gates, failures
from automl.stages._atomic import atomic_outputs
from automl.stages._io import load_tracked_params, read_stage_json
from automl.stages._sealing import governance_session, sealed_files
from governance.exceptions import IntegrityError
from governance.models import CANDIDATE, move_alias

# The sealed files the report lists, with what each one is.
SEALED_OUTPUTS = {
    "data/ingested/dataset.parquet": "ingested dataset",
    "data/prepared/train.parquet": "training split",
    "data/prepared/test.parquet": "test split",
}


def run(
    *, params_path: str | Path, inputs: Inputs, model_in: str | Path, summary_out: str | Path
) -> dict[str, Any]:
    params = load_tracked_params(params_path)
    trained = read_stage_json(inputs.train_summary, made_by="train")
    metrics = read_stage_json(inputs.metrics, made_by="evaluate")
    fairness = read_stage_json(inputs.fairness, made_by="evaluate")
    monitoring = read_stage_json(inputs.monitor_summary, made_by="monitor")
    session = governance_session(params)
    artifacts = _sealed_artifacts(params, Path(model_in), trained)
    checks = check_gates(
        params.register.gates, metrics=metrics, fairness=fairness, monitoring=monitoring,
        task=str(trained["task"]),
    )  # fmt: skip
    failed = failures(checks)
    gates = {"passed": not failed, "checks": [c.as_dict() for c in checks], "failures": failed}
    model_object = str(trained["model_object_id"])
    session.record(
        "model.gates", model_object, "failed" if failed else "passed",
        {"checks": len(checks), "failures": "; ".join(failed)},
    )  # fmt: skip
    run_id = trained.get("mlflow_run_id")
    tracked = params.tracking.enabled and bool(run_id) and bool(trained.get("model_uri"))
    if failed:
        if tracked:
            from automl.tracking import tag_run

            tag_run(
                uri=params.tracking.uri, run_id=str(run_id),
                tags={"gates": "failed", "gate_failures": "; ".join(failed)[:5000]},
            )  # fmt: skip
        with atomic_outputs() as out:
            out.write_json(summary_out, {"status": "failed", "gates": gates,
                                         "model_object_id": model_object})  # fmt: skip
        raise GateError(
            f"the model failed {len(failed)} of {len(checks)} promotion gates and was not "
            "registered (the failure is in the audit log"
            + (" and on its MLflow run" if tracked else "")
            + "):\n  - "
            + "\n  - ".join(failed)
            + "\nImprove the model or its data, or change register.gates in params.yaml if "
            "the limits are wrong for this use; then `dvc repro`."
        )
    registration: dict[str, Any] = {"model_name": None, "version": None, "model_uri": None}
    if tracked:
        registration = _register(params, trained, metrics, session)
    dossier = build_dossier(
        inputs=inputs, params=params, registration=registration, artifacts=artifacts, gates=gates
    )
    payload = json.dumps(dossier, separators=(",", ":"), allow_nan=False).encode()
    dossier_id = f"dossier-{uuid.uuid4().hex}"
    info = session.store(params.governance.store).put(
        dossier_id, payload, name=f"dossier of {model_object}"
    )
    summary = {
        "status": "registered" if tracked else "passed",
        **registration,
        "alias": CANDIDATE if tracked else None,
        "model_object_id": model_object,
        "model_sha256": trained["model_sha256"],
        "dossier_object_id": dossier_id,
        "dossier_sha256": info.sha256,
        "gates": gates,
    }
    if tracked:
        _record_registration(params, session, summary, trained)
    with atomic_outputs() as out:
        out.write_json(summary_out, summary)
    return summary


def _register(
    params: Params, trained: dict[str, Any], metrics: dict[str, Any], session: Any
) -> dict[str, Any]:
    """A new version in MLflow's registry: allowed by the policy and audited before."""
    from automl.tracking import register_model

    name, metric = params.tracking.registered_model, metrics["metric"]
    session.require("model.register", name, action="model.register")
    audited = {"mlflow_run_id": trained["mlflow_run_id"], "model_sha256": trained["model_sha256"]}
    session.record("model.register", name, "requested", audited)
    version = register_model(
        uri=params.tracking.uri,
        model_uri=trained["model_uri"],
        registered_model=name,
        tags={
            "mlflow_run_id": trained["mlflow_run_id"],
            "model_sha256": trained["model_sha256"],
            "model_object_id": trained["model_object_id"],
            "data_hash": trained.get("data_hash", ""),
            "family": trained["family"],
            "gates": "passed",
            # The registry's UI shows a version's tags: its scores belong there.
            **{
                f"test_{k}": f"{v:.6g}"
                for k, v in metrics.items()
                if isinstance(v, float) and not k.startswith("cv_")
            },
            f"cv_{metric}": f"{metrics[f'cv_{metric}']:.6g}",
        },
    )
    return {"model_name": name, "version": version, "model_uri": trained["model_uri"]}


def _record_registration(
    params: Params, session: Any, summary: dict[str, Any], trained: dict[str, Any]
) -> None:
    """The ``model.register`` entry that approvals and reports start from, then the alias."""
    from governance.mlflow_registry import MlflowRegistry

    name, version = summary["model_name"], summary["version"]
    session.record(
        "model.register", f"{name}/{version}", "ok",
        {"mlflow_run_id": trained["mlflow_run_id"], "model_sha256": summary["model_sha256"],
         "model_object_id": summary["model_object_id"], "dossier": summary["dossier_object_id"],
         "dossier_sha256": summary["dossier_sha256"], "gates": "passed"},
    )  # fmt: skip
    registry = MlflowRegistry(params.tracking.uri)
    registry.set_tags(name, version, {"dossier_object_id": summary["dossier_object_id"]})
    move_alias(session, registry, name, CANDIDATE, version)


def _sealed_artifacts(
    params: Params, model_file: Path, trained: dict[str, Any]
) -> list[dict[str, Any]]:
    """The model and the sealed datasets, each authenticated now, with their records; the
    model must be the object the train stage sealed."""
    files = sealed_files(params)
    found = []
    roles = {model_file.as_posix(): "model"} | SEALED_OUTPUTS
    for path, role in roles.items():
        file = Path(path)
        if not file.is_file() or (role != "model" and not params.governance.seal_datasets):
            continue
        status = files.verify(file)
        info = files.stat(file)
        if role == "model" and (
            info.object_id != trained.get("model_object_id")
            or info.sha256 != trained.get("model_sha256")
        ):
            raise IntegrityError(
                f"{file} is not the model the train stage recorded: rebuild it with "
                "`dvc repro --force train`."
            )
        if status != "ok":
            raise IntegrityError(
                f"{file}: {status}; restore it with `dvc checkout {file.as_posix()}`."
            )
        found.append(
            {"path": file.as_posix(), "role": role, "object_id": info.object_id,
             "sha256": info.sha256, "bytes": info.size, "kek": f"{info.kek_id} v{info.kek_version}",
             "sealed_by": info.created_by, "sealed_at": info.created_at}
        )  # fmt: skip
    return found
