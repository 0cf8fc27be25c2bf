"""The one place that writes the routing ConfigMap."""

from __future__ import annotations

import enum

from .kube import ConfigMapState, KubeApi


class WriteOutcome(enum.StrEnum):
    CREATED = "created"
    PATCHED = "patched"
    UNCHANGED = "unchanged"


async def write_routing_configmap(
    api: KubeApi, name: str, current: ConfigMapState | None, text: str
) -> WriteOutcome:
    """Make ConfigMap ``name`` hold ``text``: create it when it is missing (``current`` is None,
    i.e. the read was a 404), patch it when its text differs, leave it alone when equal.

    Readers cache by ``generation``; an unnecessary write would cost every one of them a
    re-read and would hide real changes in the audit trail, so "equal" means no request at all.
    """
    if current is None:
        await api.create_configmap(name, text)
        return WriteOutcome.CREATED
    if current.text == text:
        return WriteOutcome.UNCHANGED
    await api.patch_configmap(name, text)
    return WriteOutcome.PATCHED
