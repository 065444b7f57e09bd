"""The governance command: keys and store end to end, exit codes, messages."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Run = Callable[..., CliResult]


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GOVERNANCE_KEYRING", str(tmp_path / "keys"))
    monkeypatch.setenv("GOVERNANCE_STORE", str(tmp_path / "store"))
    return tmp_path


def test_keys_and_store_end_to_end(paths: Path, run_cli: Run) -> None:
    result = run_cli("governance", "keys", "init")
    assert result.code == 0
    assert "external KMS or HSM" in result.err
    source = paths / "model.bin"
    source.write_bytes(os.urandom(3000))
    assert run_cli("governance", "store", "put", "model", source).code == 0
    listed = run_cli("governance", "store", "ls")
    assert "model" in listed.out
    stat = run_cli("governance", "store", "stat", "model")
    assert '"size": 3000' in stat.out
    target = paths / "back.bin"
    assert run_cli("governance", "store", "get", "model", "--out", target).code == 0
    assert target.read_bytes() == source.read_bytes()
    rotated = run_cli("governance", "keys", "rotate")
    assert "v2 is primary; 1 data keys re-wrapped" in rotated.out
    listing = run_cli("governance", "keys", "list").out
    assert "│ 2 " in listing and "yes" in listing
    assert run_cli("governance", "store", "verify").code == 0
    shredded = run_cli("governance", "keys", "shred", "model")
    assert "unreadable" in shredded.out
    verify = run_cli("governance", "store", "verify")
    assert verify.code == 0
    assert "shredded" in verify.out
    gone = run_cli("governance", "store", "get", "model")
    assert gone.code == 5
    assert "shredded" in gone.err


def test_tampering_and_missing_objects_get_their_exit_codes(paths: Path, run_cli: Run) -> None:
    run_cli("governance", "keys", "init")
    source = paths / "a.bin"
    source.write_bytes(os.urandom(2_000_000))
    run_cli("governance", "store", "put", "a", source)
    sealed = paths / "store" / "objects" / "a.sealed"
    raw = bytearray(sealed.read_bytes())
    raw[1_500_000] ^= 1
    sealed.write_bytes(bytes(raw))
    verify = run_cli("governance", "store", "verify")
    assert verify.code == 4
    assert "corrupt" in verify.out
    get = run_cli("governance", "store", "get", "a", "--out", paths / "out.bin")
    assert get.code == 4
    assert "object 'a'" in get.err
    assert not (paths / "out.bin").exists()
    assert run_cli("governance", "store", "get", "nope").code == 3
    assert run_cli("governance", "store", "rm", "a").code == 0


def test_without_a_keyring_the_message_says_what_to_run(paths: Path, run_cli: Run) -> None:
    source = paths / "x.bin"
    source.write_bytes(b"x")
    result = run_cli("governance", "store", "put", "x", source)
    assert result.code == 5
    assert "governance keys init" in result.err
