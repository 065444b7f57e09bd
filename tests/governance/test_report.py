"""The compliance report: built from a sealed dossier, the audit log and the real MLflow
registry; signed; any edit detected; problems shown, never hidden."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from governance.audit import Checkpoint
from governance.context import Governance, open_governance
from governance.mlflow_registry import MlflowRegistry
from governance.models import CANDIDATE, approve, move_alias
from governance.report import problem_exit, report_for_version
from governance.report_sign import verify_report, write_report
from governance.store import SealedStore

MODEL = "credit-risk"
PIXEL = base64.b64encode(bytes.fromhex("89504e470d0a1a0a")).decode()  # a PNG signature


@dataclass
class World:
    root: Path
    uri: str
    registry: MlflowRegistry
    version: str
    model_sha256: str

    def session(self, actor: str) -> Governance:
        return open_governance(keyring=self.root / "keys", audit=self.root / "audit", actor=actor)

    def store(self, session: Governance) -> SealedStore:
        return session.store(self.root / "store")

    def report(self, actor: str = "auditor-eve") -> dict[str, Any]:
        session = self.session(actor)
        return report_for_version(
            session, store=self.store(session), name=MODEL, version=self.version,
            registry=self.registry,
        )  # fmt: skip

    def audit_file(self) -> Path:
        return self.root / "audit" / "audit.log"


def _dossier(model_sha256: str) -> dict[str, Any]:
    return {
        "format": "automl-governance-dossier/1",
        "identity": {"model_object_id": "model-abc", "model_sha256": model_sha256,
                     "owner": "risk team", "family": "lightgbm", "trained_at": "2026-01-01"},
        "intended_use": {"intended_use": "decision support", "intended_users": "officers",
                         "out_of_scope_uses": ["automated rejection"], "contact": "a@b.c",
                         "license": "MIT", "limitations": ["one lender"],
                         "ethical_considerations": ["age"], "recommendations": ["review"],
                         "metric_rationale": "ranking", "human_oversight": "four eyes",
                         "risk_management": None, "post_market_monitoring": "monthly",
                         "standards": [], "declaration_of_conformity": None},
        "data_lineage": {"source": {"type": "demo"}, "profile": [{"name": "Age"}],
                         "data_checks": {"warnings": []}, "dvc_lock": [{"path": "x"}],
                         "split": {"train_rows": 80, "test_rows": 20}, "schema": {"t": 1}},
        "training": {"family": "lightgbm", "cv_score": {"mean": 0.8}, "best_params": {"a": 1},
                     "study": {"name": "s"}, "params": {"k": "v"}, "environment": {"p": "3"},
                     "code": {"commit": "abc"}, "fit": {"rows": 80}},
        "evaluation": {"metric": "roc_auc", "confidence": {"level": 0.95},
                       "test_metrics": [{"metric": "roc_auc", "value": 0.83, "low": 0.8,
                                         "high": 0.86}],
                       "groups": {"Age": {"gaps": {"demographic_parity_difference": 0.1}}},
                       "figures": {"roc": PIXEL}},
        "gates": {"passed": True, "checks": [{"gate": "test roc_auc", "passed": True}]},
        "monitoring": {"status": "pass"},
        "artifacts": {"sealed": [{"path": "models/model.sealed", "role": "model",
                                  "object_id": "model-abc", "sha256": model_sha256}]},
        "reproducibility": {"commands": ["git checkout abc", "dvc repro"]},
    }  # fmt: skip


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database with its tables made (a second and a half each time), copied by
    each test."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return path


@pytest.fixture
def world(tmp_path: Path, empty_mlflow_db: Path) -> World:
    """A model trained and registered by tom, as the pipeline would: sealed model, dossier in
    the store, model.train and model.register entries, a real MLflow version aliased
    candidate."""
    shutil.copy(empty_mlflow_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    payload = b"pickled model bytes"
    digest = hashlib.sha256(payload).hexdigest()
    tom = open_governance(keyring=tmp_path / "keys", audit=tmp_path / "audit", actor="tom")
    tom.init_keys()
    store = tom.store(tmp_path / "store")
    store.put("model-abc", payload)
    tom.record("model.train", "model-abc", "ok", {"model_sha256": digest})
    dossier = json.dumps(_dossier(digest)).encode()
    info = store.put("dossier-1", dossier)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    version = str(
        client.create_model_version(
            MODEL, source=str(tmp_path), tags={"model_sha256": digest}
        ).version
    )
    tom.record(
        "model.register", f"{MODEL}/{version}", "ok",
        {"model_sha256": digest, "model_object_id": "model-abc", "dossier": "dossier-1",
         "dossier_sha256": info.sha256},
    )  # fmt: skip
    registry = MlflowRegistry(uri)
    move_alias(tom, registry, MODEL, CANDIDATE, version)
    tom.close()
    return World(tmp_path, uri, registry, version, digest)


def test_a_report_holds_the_evidence_and_what_is_missing(world: World) -> None:
    content = world.report()
    assert content["status"]["overall"] == "ATTENTION"
    assert content["status"]["problems"] == []
    assert "the version is not approved (pending)" in content["status"]["attention"]
    sections = content["sections"]
    identity = sections["identity"]
    assert identity["version"] == world.version
    assert identity["aliases"] == ["candidate"]
    assert identity["registered_by"] == "tom"
    assert identity["model_sha256"] == world.model_sha256
    governance = sections["governance"]
    assert governance["audit_log"]["verified"] is True
    assert governance["registry"]["aliases"] == ["candidate"]
    [artifact] = governance["sealed_artifacts"]
    assert artifact["key_status"] == "present"
    assert {("tom", "put"), ("tom", "model.train")} <= {
        (e["actor"], e["action"]) for e in governance["access_history"]
    }
    assert [m["details"]["to_version"] for m in governance["alias_history"]] == [world.version]
    # The checkpoint in the report proves later that the log was not rewritten.
    checkpoint = Checkpoint.from_json(json.dumps(governance["latest_checkpoint"]))
    assert world.session("x").audit.verify([checkpoint]).ok
    annex = {i["item"]: i for i in content["checklists"]["eu_ai_act_annex_iv"]}
    assert annex["5"]["status"] == "missing"
    assert annex["5"]["missing"] == ["params.yaml model_card.risk_management"]
    assert annex["2(e)"]["status"] == "partial"  # human oversight described, no approval yet
    assert annex["2(g)"]["status"] == "present"
    cards = {i["title"]: i["status"] for i in content["checklists"]["model_cards"]}
    assert cards["Intended use"] == "present"
    assert content["summary"]["test roc_auc"] == "0.8300 (0.8000 to 0.8600)"
    assert "artifacts" not in sections  # listed, with key status, under governance


def test_an_approval_shows_in_the_next_report(world: World) -> None:
    approve(world.session("ann"), world.registry, MODEL, world.version, comment="ok")
    content = world.report()
    identity = content["sections"]["identity"]
    assert identity["approval"] == "approved"
    assert identity["decided_by"] == "ann"
    assert identity["aliases"] == ["candidate", "champion"]
    [decision] = content["sections"]["governance"]["approvals"]
    assert (decision["action"], decision["outcome"], decision["actor"]) == (
        "model.approve", "ok", "ann",
    )  # fmt: skip
    annex = {i["item"]: i["status"] for i in content["checklists"]["eu_ai_act_annex_iv"]}
    assert annex["2(e)"] == "present"
    assert not any("approved" in a for a in content["status"]["attention"])


def _written(world: World, folder: Path) -> dict[str, Any]:
    session = world.session("auditor-eve")
    content = report_for_version(
        session, store=world.store(session), name=MODEL, version=world.version,
        registry=world.registry,
    )  # fmt: skip
    write_report(session, content, folder)
    session.close()
    return content


def test_any_changed_byte_fails_verification(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    _written(world, folder)
    log = world.session("x").audit
    log_id, key = log.log_id()
    anchor = (log_id, base64.b64decode(key))
    check = verify_report(folder, log_public_key=anchor)
    assert check.ok, check.problems
    assert check.anchored is True
    assert check.status == "ATTENTION"
    for name in ("report.json", "report.html"):
        file = folder / name
        original = file.read_bytes()
        positions = sorted({0, len(original) - 1, *range(0, len(original), len(original) // 97)})
        for position in positions:
            edited = bytearray(original)
            edited[position] ^= 0x01
            file.write_bytes(bytes(edited))
            result = verify_report(folder)
            assert not result.ok, (name, position)
            assert any(name in p for p in result.problems)
        file.write_bytes(original[:-1])
        assert not verify_report(folder).ok
        file.write_bytes(original + b" ")
        assert not verify_report(folder).ok
        file.write_bytes(original)
    assert verify_report(folder).ok
    signature = folder / "report.sig"
    document = json.loads(signature.read_text())
    signature.write_text(json.dumps(document | {"status": "PASS"}))
    assert any("signature does not verify" in p for p in verify_report(folder).problems)
    signature.write_text(json.dumps(document))
    other = bytes(32)
    assert not verify_report(folder, expected_public_key=other).ok


def test_the_html_is_self_contained_and_shows_every_section(world: World, tmp_path: Path) -> None:
    content = _written(world, tmp_path / "report")
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<script" not in html
    assert 'src="http' not in html and "url(http" not in html
    assert f'src="data:image/png;base64,{PIXEL}"' in html
    assert "Status: ATTENTION" in html
    for title in ("Identity", "Data lineage", "Evaluation", "Governance evidence",
                  "Reproducibility", "EU AI Act, Annex IV"):  # fmt: skip
        assert title in html
    assert content["sections"]["intended_use"]["intended_use"] in html
    # Everything people type is escaped.
    assert "<b>" not in html


def test_a_broken_audit_chain_is_the_first_thing_the_report_says(
    world: World, tmp_path: Path
) -> None:
    lines = world.audit_file().read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"actor":"tom"', b'"actor":"tim"')
    world.audit_file().write_bytes(b"".join(lines))
    content = _written(world, tmp_path / "report")
    status = content["status"]
    assert status["overall"] == "FAIL"
    assert status["problems"][0].startswith("THE AUDIT LOG FAILS VERIFICATION at entry 3")
    assert content["sections"]["governance"]["audit_log"]["verified"] is False
    assert content["summary"]["audit log"] == "BROKEN"
    html = (tmp_path / "report" / "report.html").read_text()
    assert 'class="status FAIL"' in html
    assert html.index("THE AUDIT LOG FAILS VERIFICATION") < html.index('id="identity"')
    error = problem_exit(content)
    assert error is not None and error.exit_code == 4
    # The report is genuine (signed), and says FAIL in its signature too.
    check = verify_report(tmp_path / "report")
    assert check.ok and check.status == "FAIL"


def test_a_replaced_dossier_is_a_problem(world: World) -> None:
    session = world.session("mallory")
    forged = _dossier(world.model_sha256)
    forged["evaluation"]["test_metrics"][0]["value"] = 0.99
    world.store(session).put("dossier-1", json.dumps(forged).encode(), replace=True)
    problems = world.report()["status"]["problems"]
    assert any("not the one recorded at registration" in p for p in problems)


def test_an_alias_moved_outside_governance_is_a_problem(world: World) -> None:
    MlflowClient(tracking_uri=world.uri, registry_uri=world.uri).set_registered_model_alias(
        MODEL, "champion", world.version
    )
    content = world.report()
    assert content["status"]["overall"] == "FAIL"
    assert any("moved outside governance" in p for p in content["status"]["problems"])


def test_a_registry_holding_another_model_is_a_problem(world: World) -> None:
    MlflowClient(tracking_uri=world.uri, registry_uri=world.uri).set_model_version_tag(
        MODEL, world.version, "model_sha256", "0" * 64
    )
    problems = world.report()["status"]["problems"]
    assert any("another model than the one registered" in p for p in problems)


def test_a_shredded_model_key_is_a_problem(world: World) -> None:
    world.session("dpo").shred("model-abc")
    content = world.report()
    assert any("can no longer be opened" in p for p in content["status"]["problems"])
    governance = content["sections"]["governance"]
    assert governance["sealed_artifacts"][0]["key_status"] == "shredded"
    assert [s["resource"] for s in governance["shredded_objects"]] == ["model-abc"]


def test_cli_report_and_verify(
    world: World, tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(world.root)
    monkeypatch.setenv("GOVERNANCE_AUDIT", str(world.root / "audit"))
    out = tmp_path / "cli-report"
    done = run_cli(
        "governance", "report", MODEL, world.version, "--out", out, "--tracking-uri",
        world.uri, "--store", world.root / "store", "--keyring", world.root / "keys",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "status: ATTENTION" in done.out
    checked = run_cli("governance", "report", "verify", out, "--keyring", world.root / "keys")
    assert checked.code == 0
    assert "the signing key is the audit log's" in checked.out
    (out / "report.html").write_text((out / "report.html").read_text().replace("0.83", "0.93"))
    failed = run_cli("governance", "report", "verify", out)
    assert failed.code == 4
    assert "report.html: changed after it was signed" in failed.out
    missing = run_cli(
        "governance", "report", MODEL, "99", "--tracking-uri", world.uri,
        "--keyring", world.root / "keys",
    )  # fmt: skip
    assert missing.code == 3
    assert "no registration" in missing.err


def test_the_documented_independent_check_works(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/compliance-report.md's snippet, run as written, accepts a report and refuses an
    edited one."""
    from tests.conftest import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "compliance-report.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    _written(world, tmp_path / "rep")
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "compliance-report.md", "exec"), {})
    html = tmp_path / "rep" / "report.html"
    html.write_bytes(html.read_bytes().replace(b"Identity", b"Identitx", 1))
    with pytest.raises(AssertionError, match="report.html"):
        exec(compile(snippet, "compliance-report.md", "exec"), {})
