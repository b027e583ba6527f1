"""The recommended `app.kubernetes.io/*` labels, one definition for every object we create.

https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
"""

from __future__ import annotations

import re

MANAGED_BY = "pulumi-hermes-eks"


def image_tag(image: str) -> str:
    """The tag of a `name:tag@sha256:...` reference, or "" when it has none."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]  # a digest is not a tag
    match = re.search(r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", name)
    return match.group(1) if match else ""


def standard_labels(instance: str, version: str = "", component: str = "") -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": "hermes-agent",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": "hermes-agent",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if version:
        labels["app.kubernetes.io/version"] = version[:63]
    if component:
        labels["app.kubernetes.io/component"] = component
    return labels
