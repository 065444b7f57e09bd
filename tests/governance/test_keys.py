from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from governance.exceptions import GovernanceError, IntegrityError, KeyUnavailableError
from governance.keys import LocalKeyring


@pytest.fixture
def keyring(tmp_path: Path) -> LocalKeyring:
    ring = LocalKeyring(tmp_path / "keys")
    ring.init()
    return ring


def test_keyring_files_are_private(keyring: LocalKeyring) -> None:
    keyring.new_data_key("obj1")
    assert stat.S_IMODE(keyring.root.stat().st_mode) == 0o700
    for path in keyring.root.rglob("*.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (keyring.root / ".gitignore").read_text() == "*\n"


def test_init_never_replaces_a_keyring(keyring: LocalKeyring) -> None:
    with pytest.raises(GovernanceError, match="already exists"):
        keyring.init()


def test_missing_keyring_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailableError, match="governance keys init"):
        LocalKeyring(tmp_path / "nowhere").new_data_key("x")


def test_data_keys_round_trip_and_are_bound_to_their_object(keyring: LocalKeyring) -> None:
    key, ref = keyring.new_data_key("obj1")
    assert keyring.data_key("obj1") == (key, ref)
    # A wrapped key copied onto another object does not unwrap.
    source = keyring.root / "data-keys" / "obj1.json"
    (keyring.root / "data-keys" / "obj2.json").write_text(source.read_text())
    with pytest.raises(IntegrityError, match="obj2"):
        keyring.data_key("obj2")


def test_rotation_rewraps_without_changing_data_keys(keyring: LocalKeyring) -> None:
    keys = {oid: keyring.new_data_key(oid)[0] for oid in ("a", "b", "c")}
    before = {oid: json.loads((keyring.root / "data-keys" / f"{oid}.json").read_text())
              for oid in keys}  # fmt: skip
    ref = keyring.rotate()
    assert ref.version == 2
    for oid, key in keys.items():
        unwrapped, now = keyring.data_key(oid)
        assert unwrapped == key
        assert now.version == 2
        after = json.loads((keyring.root / "data-keys" / f"{oid}.json").read_text())
        assert after["wrapped"] != before[oid]["wrapped"]
    assert [v["primary"] for v in keyring.versions()] == [False, True]
    assert all("key" not in v for v in keyring.versions())
    keyring.retire(1)
    assert keyring.versions()[0]["status"] == "retired"


def test_a_version_still_in_use_cannot_be_retired(keyring: LocalKeyring) -> None:
    keyring.new_data_key("a")
    keyring.rotate()
    keyring.rotate()
    with pytest.raises(GovernanceError, match="primary"):
        keyring.retire(3)


def test_shredding_an_object_key(keyring: LocalKeyring) -> None:
    keyring.new_data_key("gone")
    keyring.shred("gone")
    assert keyring.is_shredded("gone")
    with pytest.raises(KeyUnavailableError, match="shredded"):
        keyring.data_key("gone")
    assert not keyring.is_shredded("never-existed")


def test_shredding_a_kek_version_loses_what_it_still_wraps(keyring: LocalKeyring) -> None:
    keyring.new_data_key("old")
    record = json.loads((keyring.root / "keks.json").read_text())
    record["versions"].append(dict(record["versions"][0], version=2))
    record["primary"] = 2
    (keyring.root / "keks.json").write_text(json.dumps(record))
    keyring.shred_version(1)
    with pytest.raises(KeyUnavailableError, match="v1 was shredded"):
        keyring.data_key("old")
