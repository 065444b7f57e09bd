"""Where a run came from: the code commit, DVC's hashes of the data, the params used.

No MLflow here: plain facts that the tracking records and the reports (later) reuse.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from automl.redact import redact_url


def git_commit(cwd: str | Path = ".") -> dict[str, str]:
    """The commit of the working tree and whether it has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return {}
    # `dvc repro` itself rewrites dvc.lock, the .gitignore files of outputs and the outputs
    # kept in git (cache: false): none of those are changes to the code or the params.
    produced = pipeline_outputs(Path(cwd) / "dvc.yaml")
    changed = [
        path
        for path in (line[3:].strip().strip('"') for line in status.splitlines() if line.strip())
        if not path.endswith((".gitignore", "dvc.lock"))
        and not any(path == out or path.startswith(f"{out}/") for out in produced)
    ]
    return {"commit": commit, "dirty": "true" if changed else "false"}


def pipeline_outputs(dvc_yaml: Path) -> set[str]:
    """Every path dvc.yaml's stages write (outs, metrics, plots)."""
    try:
        stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError):
        return set()
    found: set[str] = set()
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for item in stage.get(kind) or []:
                found.update([item] if isinstance(item, str) else list(item))
    return {path.rstrip("/") for path in found}


def dvc_hashes(
    lock_path: str | Path = "dvc.lock", *, stages: tuple[str, ...] = ("ingest", "prepare")
) -> dict[str, str]:
    """``{path: md5}`` of the outputs of ``stages`` as dvc.lock records them (the data a search
    runs on; empty outside a DVC project). Later stages' entries may be stale, so not taken."""
    path = Path(lock_path)
    if not path.is_file():
        return {}
    try:
        lock = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return {}
    hashes: dict[str, str] = {}
    for name, stage in (lock.get("stages") or {}).items():
        if name not in stages:
            continue
        for out in stage.get("outs") or []:
            if isinstance(out, dict) and "path" in out and "md5" in out:
                hashes[str(out["path"])] = str(out["md5"])
    return hashes


def flatten(sections: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as dotted keys with string values; URLs lose their secrets."""
    flat: dict[str, str] = {}
    for key, value in sections.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif key == "url" and isinstance(value, str):
            flat[name] = redact_url(value)
        else:
            flat[name] = "null" if value is None else str(value)
    return flat
