"""The access policy: loading, decisions, enforcement in the library and the CLI, audited."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from governance.audit import Checkpoint
from governance.context import open_governance
from governance.exceptions import AccessDeniedError
from governance.policy import Policy, PolicyError
from tests.conftest import CliResult

Run = Callable[..., CliResult]

POLICY = {
    "identities": {
        "alice": ["data-scientist"],
        "bob": ["approver"],
        "kim": ["key-admin"],
        "ci": ["pipeline"],
    },
    "default_roles": ["verifier"],
    "roles": {
        "pipeline": {"artifact.*": ["*"], "model.register": ["*"]},
        "data-scientist": {"artifact.read": ["dataset-*", "train-*"], "artifact.write": ["*"]},
        "approver": {"model.approve": ["*"], "model.promote": ["*"], "audit.read": ["*"]},
        "key-admin": {"keys.*": ["*"]},
        "verifier": {"artifact.verify": ["*"]},
    },
}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    return path


def test_decisions(policy_file: Path) -> None:
    policy = Policy.load(policy_file)
    assert policy.decide("alice", "artifact.read", "dataset-1").allowed
    assert not policy.decide("alice", "artifact.read", "model-1").allowed
    assert policy.decide("ci", "artifact.delete", "model-1").allowed  # artifact.* glob
    assert policy.decide("kim", "keys.shred", "model-1").allowed
    assert not policy.decide("alice", "keys.rotate", "keyring").allowed
    assert policy.decide("stranger", "artifact.verify", "x").allowed  # default role
    denied = policy.decide("stranger", "artifact.read", "x")
    assert not denied.allowed
    assert "'stranger' (verifier) may not artifact.read 'x'" in denied.reason
    assert Policy.allow_all().decide("anyone", "keys.shred", "x").allowed


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"roles": {"r": {"artifact.raed": ["*"]}}}, "did you mean 'artifact.read'"),
        ({"identities": {"a": ["pipline"]}}, "no role 'pipline' (did you mean 'pipeline'?)"),
        ({"roles": {"r": {"artifact.read": [1]}}}, "must be a list of resource patterns"),
        ({"rolez": {}}, "unknown key(s) ['rolez']"),
    ],
)
def test_a_malformed_policy_says_what_and_where(
    tmp_path: Path, change: dict[str, object], fragment: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({**POLICY, **change}))
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_the_library_enforces_and_audits_denials(tmp_path: Path, policy_file: Path) -> None:
    def session(actor: str):  # type: ignore[no-untyped-def]
        return open_governance(
            keyring=tmp_path / "keys", audit=tmp_path / "audit", policy=policy_file, actor=actor
        )

    kim = session("kim")
    kim.init_keys()
    ci = session("ci").store(tmp_path / "store")
    ci.put("model-1", b"weights")
    ci.put("dataset-1", b"rows")
    alice = session("alice").store(tmp_path / "store")
    assert alice.get("dataset-1") == b"rows"
    with pytest.raises(AccessDeniedError, match="'alice' .* may not artifact.read 'model-1'"):
        alice.get("model-1")
    with pytest.raises(AccessDeniedError):
        alice.delete("dataset-1")
    bob = session("bob")
    with pytest.raises(AccessDeniedError):
        bob.shred("model-1")
    assert not bob.keyring.is_shredded("model-1")
    assert session("stranger").store(tmp_path / "store").verify() == {
        "dataset-1": "ok", "model-1": "ok"
    }  # fmt: skip
    denials = [
        (e.actor, e.action, e.resource) for e in kim.audit.entries() if e.outcome == "denied"
    ]
    assert denials == [
        ("alice", "get", "model-1"), ("alice", "delete", "dataset-1"),
        ("bob", "keys.shred", "model-1"),
    ]  # fmt: skip


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy_file: Path) -> Path:
    monkeypatch.setenv("GOVERNANCE_KEYRING", str(tmp_path / "keys"))
    monkeypatch.setenv("GOVERNANCE_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("GOVERNANCE_AUDIT", str(tmp_path / "audit"))
    monkeypatch.setenv("GOVERNANCE_POLICY", str(policy_file))
    return tmp_path


def test_cli_denials_exit_7_and_auditors_read_and_export(cli_env: Path, run_cli: Run) -> None:
    assert run_cli("governance", "--actor", "kim", "keys", "init").code == 0
    source = cli_env / "m.bin"
    source.write_bytes(b"model bytes")
    assert run_cli("governance", "--actor", "ci", "store", "put", "model-1", source).code == 0
    denied = run_cli("governance", "--actor", "alice", "store", "get", "model-1")
    assert denied.code == 7
    assert "access denied" in denied.err and "Traceback" not in denied.err
    assert run_cli("governance", "--actor", "alice", "audit", "show").code == 7

    shown = run_cli("governance", "--actor", "bob", "audit", "show", "--who", "alice")
    assert shown.code == 0, shown.err
    assert "denied" in shown.out and "model-1" in shown.out

    jsonl = cli_env / "out" / "audit.jsonl"
    result = run_cli(
        "governance", "--actor", "bob", "audit", "export", "-o", jsonl, "--action", "put"
    )
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [(r["actor"], r["resource"], r["outcome"]) for r in rows] == [("ci", "model-1", "ok")]
    assert len(rows[0]["hash"]) == 64

    table = cli_env / "audit.csv"
    result = run_cli(
        "governance", "--actor", "bob", "audit", "export", "-o", table, "--format", "csv"
    )
    assert result.code == 0, result.err
    records = list(csv.DictReader(io.StringIO(table.read_text())))
    actions = [r["action"] for r in records]
    assert actions[:3] == ["audit.init", "keys.init", "put"]
    assert ("alice", "get", "denied") in {(r["actor"], r["action"], r["outcome"]) for r in records}
    assert ("alice", "audit.read", "denied") in {
        (r["actor"], r["action"], r["outcome"]) for r in records
    }


def test_cli_verify_and_checkpoints(cli_env: Path, run_cli: Run) -> None:
    assert run_cli("governance", "--actor", "kim", "keys", "init").code == 0
    source = cli_env / "m.bin"
    source.write_bytes(b"model bytes")
    for i in range(3):
        assert run_cli("governance", "--actor", "ci", "store", "put", f"m-{i}", source).code == 0
    printed = run_cli("governance", "audit", "checkpoint")
    assert printed.code == 0, printed.err
    kept = cli_env / "kept.json"
    kept.write_text(printed.out)
    assert Checkpoint.from_json(printed.out).signed_ok()
    ok = run_cli("governance", "audit", "verify", "--checkpoint", kept)
    assert ok.code == 0 and "ok:" in ok.out
    log = cli_env / "audit" / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:3]))
    cut = run_cli("governance", "audit", "verify", "--checkpoint", kept)
    assert cut.code == 4
    assert "FAILED at entry" in cut.out and "cut off" in " ".join(cut.out.split())
    value = run_cli("governance", "audit", "hash", "jane@example.org")
    assert value.out.startswith("hmac-sha256:")
