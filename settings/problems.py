"""Configuration problems and the error that lists them."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pulumi

from settings.models import SECRET_KEYS

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

class Problem(NamedTuple):
    attribute: str
    value: Any
    allowed: str


class ConfigError(pulumi.RunError):
    """Raised before any resource is registered; RunError makes Pulumi print it without a traceback."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        header = (
            f"Stack '{stack}' has {len(problems)} configuration problem{'s' if len(problems) > 1 else ''}; "
            "nothing was created or changed:"
        )
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


def _shown(attribute: str, value: Any) -> str:
    if attribute in SECRET_KEYS:
        return "<secret value hidden>"
    if attribute == "messaging":
        return "<hidden: it may hold secret values>"
    if attribute.startswith("messaging."):
        return "not set" if value is None else value  # components/messaging.py shows it, secrets hidden
    if attribute == "instances":
        return "<a value not shown: an instance may hold a credential>"
    if value is None or value == "":
        return "not set"
    if isinstance(value, str) and value[:1] in ("[", "{"):
        return value  # a list or map, as JSON text from the engine
    return json.dumps(value, default=str)
