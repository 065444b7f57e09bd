"""Stage ``report``: the compliance audit report of the model the register stage just handled.

The report itself is governance's (governance/report.py): this stage only says which model.
It writes report.html, report.json and report.sig into its folder; a report whose status is
FAIL (a broken audit chain, a model that differs from what was registered) is written, and the
stage then fails (exit 4) so nobody mistakes it for a passing one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.stages._io import load_tracked_params, read_stage_json
from automl.stages._sealing import governance_session
from governance.report import build_report, problem_exit, report_for_version
from governance.report_sign import write_report


def run(
    *, params_path: str | Path, register_summary_in: str | Path, out_dir: str | Path
) -> dict[str, Any]:
    params = load_tracked_params(params_path)
    registered = read_stage_json(register_summary_in, made_by="register")
    session = governance_session(params)
    store = session.store(params.governance.store)
    if registered.get("version"):
        from governance.mlflow_registry import MlflowRegistry

        content = report_for_version(
            session, store=store, name=str(registered["model_name"]),
            version=str(registered["version"]), registry=MlflowRegistry(params.tracking.uri),
        )  # fmt: skip
    else:
        content = build_report(
            session, store=store, dossier_id=str(registered["dossier_object_id"]),
            dossier_sha256=str(registered["dossier_sha256"]),
        )  # fmt: skip
    write_report(session, content, out_dir)
    error = problem_exit(content)
    if error is not None:
        raise error
    return content
