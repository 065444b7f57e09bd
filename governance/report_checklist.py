"""The report's checklists: which items of two documentation standards the report covers.

- EU AI Act (Regulation (EU) 2024/1689), Annex IV: the technical documentation of a high-risk
  AI system (Article 11(1)). Credit scoring of natural persons is high-risk (Annex III 5(b)).
- Model Cards (Mitchell et al., 2019, "Model Cards for Model Reporting"): their nine sections.

Each item names the report fields that hold its evidence. An item is ``present`` when every
field has content, ``partial`` when some have, ``missing`` when none has; the missing fields
are named with where to fill them. Items this tool cannot produce (the declaration of
conformity, the risk management system itself) can only be referenced from ``model_card``.
The mapping is a reading aid for reviewers, not a legal assessment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Field = tuple[str, str]  # (section, key)

ANNEX_IV: tuple[tuple[str, str, tuple[Field, ...]], ...] = (
    ("1(a)", "Intended purpose, provider, version",
     (("intended_use", "intended_use"), ("identity", "owner"), ("identity", "version"))),
    ("1(c)", "Versions of the software and of its dependencies",
     (("training", "environment"), ("training", "code"))),
    ("2(a)", "Methods and steps of development, third-party tools used",
     (("training", "study"), ("training", "params"))),
    ("2(b)", "Design: general logic, what it optimises, key choices",
     (("training", "family"), ("training", "cv_score"), ("training", "best_params"))),
    ("2(c)", "Architecture and computational resources",
     (("training", "environment"), ("training", "fit"))),
    ("2(d)", "Data: provenance, scope, characteristics, selection, cleaning",
     (("data_lineage", "source"), ("data_lineage", "profile"), ("data_lineage", "data_checks"),
      ("data_lineage", "dvc_lock"))),
    ("2(e)", "Human oversight measures",
     (("intended_use", "human_oversight"), ("governance", "approvals"))),
    ("2(g)", "Validation and testing: data, metrics, discriminatory impacts, signed test logs",
     (("evaluation", "test_metrics"), ("evaluation", "groups"), ("gates", "checks"),
      ("data_lineage", "split"))),
    ("2(h)", "Cybersecurity measures",
     (("governance", "sealed_artifacts"), ("governance", "audit_log"))),
    ("3", "Capabilities and limitations, accuracy for groups of persons, foreseeable risks",
     (("intended_use", "limitations"), ("evaluation", "groups"),
      ("intended_use", "ethical_considerations"))),
    ("4", "Appropriateness of the performance metrics",
     (("evaluation", "test_metrics"), ("intended_use", "metric_rationale"))),
    ("5", "Risk management system (Article 9)", (("intended_use", "risk_management"),)),
    ("6", "Changes through the lifecycle",
     (("governance", "alias_history"), ("governance", "access_history"))),
    ("7", "Harmonised standards applied", (("intended_use", "standards"),)),
    ("8", "EU declaration of conformity", (("intended_use", "declaration_of_conformity"),)),
    ("9", "Post-market monitoring: system and plan",
     (("monitoring", "status"), ("intended_use", "post_market_monitoring"))),
)  # fmt: skip

MODEL_CARDS: tuple[tuple[str, str, tuple[Field, ...]], ...] = (
    ("1", "Model details",
     (("identity", "owner"), ("identity", "version"), ("identity", "family"),
      ("identity", "trained_at"), ("intended_use", "contact"), ("intended_use", "license"))),
    ("2", "Intended use",
     (("intended_use", "intended_use"), ("intended_use", "intended_users"),
      ("intended_use", "out_of_scope_uses"))),
    ("3", "Factors", (("evaluation", "groups"),)),
    ("4", "Metrics", (("evaluation", "test_metrics"), ("evaluation", "confidence"))),
    ("5", "Evaluation data", (("data_lineage", "split"), ("data_lineage", "schema"))),
    ("6", "Training data", (("data_lineage", "source"), ("data_lineage", "profile"))),
    ("7", "Quantitative analyses", (("evaluation", "test_metrics"), ("evaluation", "groups"))),
    ("8", "Ethical considerations", (("intended_use", "ethical_considerations"),)),
    ("9", "Caveats and recommendations",
     (("intended_use", "limitations"), ("intended_use", "recommendations"))),
)  # fmt: skip

# Where a reviewer fills a missing field; fields not named here come from the pipeline.
_WHERE = {
    "intended_use": "params.yaml model_card.{key}",
    ("identity", "owner"): "params.yaml model_card.owner",
    ("governance", "approvals"): "an approval: governance approve <model> <version>",
    ("evaluation", "groups"): "params.yaml evaluate.groups (sensitive attributes)",
    ("evaluation", "confidence"): "params.yaml evaluate.bootstrap",
    ("identity", "version"): "a registered version (tracking.enabled)",
}


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _where(section: str, key: str) -> str:
    found = _WHERE.get((section, key)) or _WHERE.get(section)
    return found.format(key=key) if found else f"{section}.{key} (from the pipeline)"


def checklist(
    sections: Mapping[str, Mapping[str, Any]],
    items: tuple[tuple[str, str, tuple[Field, ...]], ...],
) -> list[dict[str, Any]]:
    rows = []
    for ref, title, fields in items:
        present = [f for f in fields if _filled(sections.get(f[0], {}).get(f[1]))]
        missing = [f for f in fields if f not in present]
        status = "present" if not missing else ("partial" if present else "missing")
        rows.append(
            {
                "item": ref,
                "title": title,
                "status": status,
                "evidence": [f"{s}.{k}" for s, k in present],
                "missing": [_where(s, k) for s, k in missing],
            }
        )
    return rows


def checklists(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {
        "eu_ai_act_annex_iv": checklist(sections, ANNEX_IV),
        "model_cards": checklist(sections, MODEL_CARDS),
    }
