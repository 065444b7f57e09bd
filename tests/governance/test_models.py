"""Model versions under governance against a real MLflow registry (SQLite): registration
lookup, four-eyes approval, policy, tamper checks, rejection and audited alias moves."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from governance.audit import Entry
from governance.context import Governance, open_governance
from governance.exceptions import AccessDeniedError, GovernanceError, IntegrityError
from governance.mlflow_registry import MlflowRegistry
from governance.models import (
    CANDIDATE,
    CHAMPION,
    aliases_from_log,
    approve,
    find_registration,
    history,
    move_alias,
    reject,
)
from governance.sealed import ObjectNotFoundError

MODEL = "churn"
TRAINER = "tom"
REGISTRANT = "ci"
APPROVER = "ann"


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database with its tables made once (the migrations take seconds);
    each test works on a copy of it."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return path


@dataclass
class World:
    """One test's MLflow registry, keyring and audit log, and the pipeline's records."""

    root: Path
    uri: str
    keyring: Path
    audit: Path
    client: MlflowClient = field(init=False)
    registry: MlflowRegistry = field(init=False)
    models: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self.registry = MlflowRegistry(self.uri)

    def session(self, actor: str, policy: Path | None = None) -> Governance:
        session = open_governance(
            keyring=self.keyring, audit=self.audit, policy=policy, actor=actor
        )
        if not session.keyring.exists():
            session.init_keys()
        return session

    def entries(self, **filters: str) -> list[Entry]:
        return list(self.session("auditor").audit.entries(**filters))

    def register(
        self, name: str = MODEL, *, trainer: str = TRAINER, registrant: str = REGISTRANT
    ) -> tuple[str, str]:
        """A new MLflow version of ``name`` and the train and register stages' entries for
        it, as the pipeline writes them; its version and model SHA-256."""
        if name not in self.models:
            self.client.create_registered_model(name)
            self.models.add(name)
        source = self.root / "sources" / f"{name}-{len(list(self.root.glob('sources/*')))}"
        source.mkdir(parents=True)
        sha = hashlib.sha256(str(source).encode()).hexdigest()
        created = self.client.create_model_version(
            name, source=str(source), run_id=None, tags={"model_sha256": sha}
        )
        version = str(created.version)
        object_id = f"model-{sha[:12]}"
        self.session(trainer).record("model.train", object_id, "ok", {"model_sha256": sha})
        self.record_registration(name, version, sha, object_id, registrant=registrant)
        return version, sha

    def record_registration(
        self, name: str, version: str, sha: str, object_id: str, *,
        registrant: str = REGISTRANT, dossier: str = "dossier-x", outcome: str = "ok",
    ) -> None:  # fmt: skip
        self.session(registrant).record(
            "model.register", f"{name}/{version}", outcome,
            {"model_sha256": sha, "model_object_id": object_id, "dossier": dossier,
             "dossier_sha256": "00"},
        )  # fmt: skip

    def mlflow_alias(self, alias: str, name: str = MODEL) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def tags(self, version: str, name: str = MODEL) -> dict[str, str]:
        return dict(self.client.get_model_version(name, version).tags)

    def mlflow_aliases(self, name: str = MODEL) -> dict[str, str]:
        return {a: str(v) for a, v in self.client.get_registered_model(name).aliases.items()}


@pytest.fixture
def world(tmp_path: Path, empty_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.delenv("GOVERNANCE_POLICY", raising=False)
    db = tmp_path / "mlflow.db"
    shutil.copyfile(empty_mlflow_db, db)
    return World(tmp_path, f"sqlite:///{db}", tmp_path / "keys", tmp_path / "audit")


def _summary(entries: list[Entry]) -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.action, e.resource, e.outcome) for e in entries]


# -- registration lookup ---------------------------------------------------------------------


def test_find_registration_takes_the_latest_ok_one_and_counts_earlier(world: World) -> None:
    version, sha = world.register()
    registration = find_registration(world.session("x").audit, MODEL, version)
    assert registration.earlier == 0
    assert registration.entry.actor == REGISTRANT
    assert registration.details["model_sha256"] == sha
    assert registration.details["dossier"] == "dossier-x"

    # A refused attempt and another version sharing the prefix ("1" / "10") do not count.
    object_id = f"model-{sha[:12]}"
    world.record_registration(MODEL, version, sha, object_id, dossier="dossier-no", outcome="error")
    world.record_registration(MODEL, f"{version}0", sha, object_id, dossier="dossier-ten")
    world.record_registration(MODEL, version, sha, object_id, dossier="dossier-y")
    registration = find_registration(world.session("x").audit, MODEL, version)
    assert registration.earlier == 1
    assert registration.details["dossier"] == "dossier-y"
    assert registration.entry.resource == f"{MODEL}/{version}"
    assert find_registration(world.session("x").audit, MODEL, f"{version}0").earlier == 0


def test_find_registration_of_an_unregistered_version_is_not_found(world: World) -> None:
    world.register()
    with pytest.raises(ObjectNotFoundError) as caught:
        find_registration(world.session("x").audit, MODEL, "99")
    assert caught.value.exit_code == 3
    message = str(caught.value)
    assert "no registration of 'churn' version 99" in message
    assert "--action model.register" in message
    with pytest.raises(ObjectNotFoundError):
        find_registration(world.session("x").audit, "other", "1")


def test_a_version_created_outside_the_pipeline_cannot_be_approved(world: World) -> None:
    world.register()
    outside = world.client.create_model_version(
        MODEL, source=str(world.root), run_id=None, tags={"model_sha256": "ab" * 32}
    )
    with pytest.raises(ObjectNotFoundError):
        approve(world.session(APPROVER), world.registry, MODEL, str(outside.version))
    assert world.mlflow_alias(CHAMPION) is None


def test_a_version_gone_from_the_registry_cannot_be_approved(world: World) -> None:
    version, _ = world.register()
    world.client.delete_model_version(MODEL, version)
    with pytest.raises(ObjectNotFoundError, match="registry has no 'churn' version"):
        approve(world.session(APPROVER), world.registry, MODEL, version)


# -- four eyes -------------------------------------------------------------------------------


@pytest.mark.parametrize("maker", [TRAINER, REGISTRANT])
def test_who_trained_or_registered_a_version_cannot_approve_it(world: World, maker: str) -> None:
    version, _ = world.register()
    before = len(world.entries())
    with pytest.raises(AccessDeniedError) as caught:
        approve(world.session(maker), world.registry, MODEL, version)
    assert caught.value.exit_code == 7
    assert "four eyes" in str(caught.value)
    assert repr(maker) in str(caught.value)
    new = world.entries()[before:]
    assert _summary(new) == [(maker, "model.approve", f"{MODEL}/{version}", "denied")]
    assert new[0].details == {"reason": "four-eyes"}
    assert world.mlflow_alias(CHAMPION) is None
    assert "approval" not in world.tags(version)


def test_a_third_person_approves_and_the_champion_alias_moves(world: World) -> None:
    version, sha = world.register()
    before = len(world.entries())
    decision = approve(world.session(APPROVER), world.registry, MODEL, version, comment="lgtm")
    assert (decision.name, decision.version, decision.outcome) == (MODEL, version, "approved")
    assert decision.previous_champion is None

    assert world.mlflow_alias(CHAMPION) == version
    tags = world.tags(version)
    assert tags["approval"] == "approved"
    assert tags["approved_by"] == APPROVER
    assert dt.datetime.fromisoformat(tags["approved_at"]).tzinfo is not None
    assert tags["model_sha256"] == sha

    new = world.entries()[before:]
    target = f"{MODEL}/{version}"
    assert _summary(new) == [
        (APPROVER, "model.approve", target, "ok"),
        (APPROVER, "model.alias", target, "requested"),
        (APPROVER, "model.alias", target, "ok"),
    ]
    assert new[0].details == {"model_sha256": sha, "comment": "lgtm"}
    move = {"alias": CHAMPION, "from_version": "", "to_version": version}
    assert new[1].details == move
    assert new[2].details == move


def test_approving_a_second_version_replaces_the_previous_champion(world: World) -> None:
    first, _ = world.register()
    second, _ = world.register()
    assert first != second
    approve(world.session(APPROVER), world.registry, MODEL, first)
    before = len(world.entries())
    decision = approve(world.session("bea"), world.registry, MODEL, second)
    assert decision.previous_champion == first
    assert world.mlflow_alias(CHAMPION) == second
    moves = [e for e in world.entries()[before:] if e.action == "model.alias"]
    assert [m.outcome for m in moves] == ["requested", "ok"]
    assert moves[-1].details == {"alias": CHAMPION, "from_version": first, "to_version": second}
    assert world.tags(first)["approved_by"] == APPROVER
    assert world.tags(second)["approved_by"] == "bea"


# -- the policy ------------------------------------------------------------------------------

POLICY = {
    "identities": {
        "ci": ["pipeline"],
        TRAINER: ["data-scientist"],
        "rita": ["reviewer"],
        "bob": ["half-approver"],
        APPROVER: ["approver"],
    },
    "roles": {
        "pipeline": {"model.register": ["*"], "model.promote": ["*"]},
        "data-scientist": {"artifact.*": ["*"]},
        "reviewer": {"audit.read": ["*"]},
        "half-approver": {"model.approve": ["*"], "audit.read": ["*"]},
        "approver": {"model.approve": ["*"], "model.promote": ["*"], "audit.read": ["*"]},
    },
}


@pytest.mark.parametrize(
    ("actor", "missing"), [("rita", "model.approve"), ("bob", "model.promote")]
)
def test_approval_needs_both_approver_permissions(world: World, actor: str, missing: str) -> None:
    policy = world.root / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    version, _ = world.register()
    before = len(world.entries())
    with pytest.raises(AccessDeniedError, match=f"may not {missing}"):
        approve(world.session(actor, policy), world.registry, MODEL, version)
    new = world.entries()[before:]
    assert _summary(new) == [(actor, "model.approve", f"{MODEL}/{version}", "denied")]
    assert new[0].details == {"permission": missing}
    assert world.mlflow_alias(CHAMPION) is None
    assert "approval" not in world.tags(version)

    # The same policy lets the approver through.
    approve(world.session(APPROVER, policy), world.registry, MODEL, version)
    assert world.mlflow_alias(CHAMPION) == version


# -- tampering -------------------------------------------------------------------------------


@pytest.mark.parametrize("decide", ["approve", "reject"])
def test_a_registry_changed_after_registration_is_refused(world: World, decide: str) -> None:
    version, sha = world.register()
    move_alias(world.session(REGISTRANT), world.registry, MODEL, CANDIDATE, version)
    world.client.set_model_version_tag(MODEL, version, "model_sha256", "f" * 64)
    before = len(world.entries())
    with pytest.raises(IntegrityError) as caught:
        if decide == "approve":
            approve(world.session(APPROVER), world.registry, MODEL, version)
        else:
            reject(world.session(APPROVER), world.registry, MODEL, version, reason="bad data")
    assert caught.value.exit_code == 4
    assert sha in str(caught.value)
    new = world.entries()[before:]
    assert _summary(new) == [(APPROVER, f"model.{decide}", f"{MODEL}/{version}", "refused")]
    assert new[0].details == {"reason": "registry differs from the log"}
    # Nothing moved and nothing was tagged.
    assert world.mlflow_aliases() == {CANDIDATE: version}
    assert "approval" not in world.tags(version)


def test_an_audit_log_failing_verification_blocks_approval(world: World) -> None:
    version, _ = world.register()
    # The trainer rewrites history to say someone else trained the model, then approves it.
    log = world.audit / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if b'"action":"model.train"' in line]
    assert b'"actor":"tom"' in lines[index]
    lines[index] = lines[index].replace(b'"actor":"tom"', b'"actor":"eve"')
    log.write_bytes(b"".join(lines))
    assert find_registration(world.session("x").audit, MODEL, version).entry.actor == REGISTRANT

    with pytest.raises(IntegrityError, match="fails verification") as caught:
        approve(world.session(TRAINER), world.registry, MODEL, version)
    assert caught.value.exit_code == 4
    assert world.mlflow_alias(CHAMPION) is None
    assert "approval" not in world.tags(version)
    last = world.entries()[-1]
    assert (last.actor, last.action, last.outcome) == (TRAINER, "model.approve", "refused")


# -- rejection -------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(world: World, reason: str) -> None:
    version, _ = world.register()
    before = len(world.entries())
    with pytest.raises(GovernanceError, match="needs a reason"):
        reject(world.session(APPROVER), world.registry, MODEL, version, reason=reason)
    assert len(world.entries()) == before
    assert "approval" not in world.tags(version)


def test_reject_removes_the_versions_aliases_and_the_trainer_may_reject(world: World) -> None:
    version, _ = world.register()
    other, _ = world.register()
    approve(world.session(APPROVER), world.registry, MODEL, version)
    move_alias(world.session(REGISTRANT), world.registry, MODEL, CANDIDATE, version)
    move_alias(world.session(REGISTRANT), world.registry, MODEL, "shadow", version)
    assert world.mlflow_aliases() == {CHAMPION: version, CANDIDATE: version, "shadow": version}
    before = len(world.entries())

    decision = reject(world.session(TRAINER), world.registry, MODEL, version, reason="leakage")
    assert (decision.version, decision.outcome, decision.previous_champion) == (
        version, "rejected", None
    )  # fmt: skip
    # Only candidate and champion go; an alias of another name stays.
    assert world.mlflow_aliases() == {"shadow": version}
    tags = world.tags(version)
    assert (tags["approval"], tags["rejected_by"]) == ("rejected", TRAINER)
    assert "rejected_at" in tags
    assert "approval" not in world.tags(other)

    new = world.entries()[before:]
    gone = f"{MODEL}/{version}"  # a removal is about the version that loses the alias
    assert _summary(new) == [
        (TRAINER, "model.reject", f"{MODEL}/{version}", "ok"),
        (TRAINER, "model.alias", gone, "requested"),
        (TRAINER, "model.alias", gone, "ok"),
        (TRAINER, "model.alias", gone, "requested"),
        (TRAINER, "model.alias", gone, "ok"),
    ]
    assert new[0].details == {"reason": "leakage"}
    assert [e.details for e in new[2::2]] == [
        {"alias": CANDIDATE, "from_version": version, "to_version": ""},
        {"alias": CHAMPION, "from_version": version, "to_version": ""},
    ]


def test_reject_leaves_aliases_held_by_other_versions(world: World) -> None:
    first, _ = world.register()
    second, _ = world.register()
    approve(world.session(APPROVER), world.registry, MODEL, first)
    move_alias(world.session(REGISTRANT), world.registry, MODEL, CANDIDATE, second)
    before = len(world.entries())
    reject(world.session(APPROVER), world.registry, MODEL, second, reason="worse than champion")
    assert world.mlflow_aliases() == {CHAMPION: first}
    assert [e.details.get("alias") for e in world.entries()[before:]] == [
        None,
        CANDIDATE,
        CANDIDATE,
    ]


def test_a_rejection_is_not_left_half_done_by_the_policy(world: World) -> None:
    policy = world.root / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    version, _ = world.register()
    approve(world.session(APPROVER), world.registry, MODEL, version)
    before = len(world.entries())
    # bob holds model.approve (enough to reject) but not model.promote (to move aliases).
    with pytest.raises(AccessDeniedError, match="model.promote"):
        reject(world.session("bob", policy), world.registry, MODEL, version, reason="bias")
    rejected = [
        e for e in world.entries()[before:] if (e.action, e.outcome) == ("model.reject", "ok")
    ]
    still_champion = world.mlflow_alias(CHAMPION) == version
    # Refused up front: nothing recorded as done, nothing tagged, the champion unchanged.
    assert not rejected
    assert still_champion
    assert world.tags(version).get("approval") == "approved"


# -- alias moves -----------------------------------------------------------------------------


def test_moving_an_alias_to_where_it_points_is_a_no_op(world: World) -> None:
    version, _ = world.register()
    session = world.session(REGISTRANT)
    assert move_alias(session, world.registry, MODEL, CANDIDATE, version) is None
    before = len(world.entries())
    assert move_alias(session, world.registry, MODEL, CANDIDATE, version) == version
    assert len(world.entries()) == before
    assert world.mlflow_alias(CANDIDATE) == version
    # Removing an alias nobody holds is a no-op too.
    assert move_alias(session, world.registry, MODEL, "shadow", None) is None
    assert len(world.entries()) == before


def test_history_and_replayed_aliases_match_mlflow(world: World) -> None:
    ci = world.session(REGISTRANT)
    first, _ = world.register()
    move_alias(ci, world.registry, MODEL, CANDIDATE, first)
    second, _ = world.register()
    move_alias(ci, world.registry, MODEL, CANDIDATE, second)
    # Another model whose name starts the same: its moves are not this model's.
    eu, _ = world.register("churn-eu")
    move_alias(ci, world.registry, "churn-eu", CANDIDATE, eu)
    approve(world.session(APPROVER), world.registry, "churn-eu", eu)

    approve(world.session(APPROVER), world.registry, MODEL, first)
    approve(world.session(APPROVER), world.registry, MODEL, second)
    reject(world.session(APPROVER), world.registry, MODEL, second, reason="drift")
    third, _ = world.register()
    move_alias(ci, world.registry, MODEL, CANDIDATE, third)

    log = world.session("auditor").audit
    found = history(log.entries(), MODEL, second)
    assert [(e.action, e.outcome) for e in found["decisions"]] == [
        ("model.approve", "ok"),
        ("model.reject", "ok"),
    ]
    assert {e.resource for e in found["decisions"]} == {f"{MODEL}/{second}"}
    moves = found["alias_moves"]
    assert all(e.outcome == "ok" and e.resource.startswith(f"{MODEL}/") for e in moves)
    assert len(moves) == 7  # candidate x2, champion x2, two removals, candidate again
    assert aliases_from_log(moves) == world.mlflow_aliases() == {CANDIDATE: third}
    assert history(log.entries(), MODEL, first)["decisions"][0].action == "model.approve"

    eu_moves = history(log.entries(), "churn-eu", eu)["alias_moves"]
    assert aliases_from_log(eu_moves) == world.mlflow_aliases("churn-eu")
    assert world.mlflow_aliases("churn-eu") == {CANDIDATE: eu, CHAMPION: eu}


# -- the MLflow registry ---------------------------------------------------------------------


def test_mlflow_registry_answers_none_for_what_it_does_not_hold(world: World) -> None:
    version, sha = world.register()
    registry = world.registry
    assert registry.version("nope", "1") is None
    assert registry.version(MODEL, "99") is None
    assert registry.alias(MODEL, CHAMPION) is None
    assert registry.alias("nope", CHAMPION) is None

    found = registry.version(MODEL, version)
    assert found is not None
    assert (found.name, found.version, found.tags["model_sha256"]) == (MODEL, version, sha)
    assert found.aliases == ()
    assert found.created_at is not None and found.created_at > 1e9
    registry.set_alias(MODEL, CANDIDATE, version)
    assert registry.alias(MODEL, CANDIDATE) == version
    assert registry.version(MODEL, version).aliases == (CANDIDATE,)  # type: ignore[union-attr]
    registry.delete_alias(MODEL, CANDIDATE)
    assert registry.alias(MODEL, CANDIDATE) is None


def test_mlflow_registry_refusals_are_governance_errors(world: World) -> None:
    with pytest.raises(GovernanceError, match="refused to point 'champion' at nope version 1"):
        world.registry.set_alias("nope", CHAMPION, "1")
