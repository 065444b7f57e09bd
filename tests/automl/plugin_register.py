"""Imported by ``automl --plugin tests.automl.plugin_register``: registers the test families."""

from __future__ import annotations

from automl.families import FAMILIES, register_family
from tests.automl.plugin_families import PLUGINS

for _family in PLUGINS:
    if _family.name not in FAMILIES:
        register_family(_family)
