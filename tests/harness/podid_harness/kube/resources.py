# SPDX-License-Identifier: Apache-2.0
"""What a resource type is (group, version, plural, kind, scope, verbs, subresources, field labels), the built-in
types the stand-in serves, and turning an apiextensions.k8s.io/v1 CustomResourceDefinition into types."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import ApiError
from .selectors import COMMON_FIELDS

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()       # "status", "token"
    field_labels: tuple[str, ...] = ()       # beyond metadata.name / metadata.namespace
    printer_columns: tuple = ()              # CRD additionalPrinterColumns (dicts)
    categories: tuple[str, ...] = ()
    custom: bool = False                     # served from a CRD

    @property
    def gr(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def selectable_fields(self) -> tuple[str, ...]:
        return COMMON_FIELDS + self.field_labels

    def names(self) -> set[str]:
        """Everything kubectl accepts for this type: plural, singular, kind, short names (lower-cased)."""
        return {self.plural, self.singular or self.kind.lower(), self.kind.lower(), *self.short_names}


def _core(plural, kind, namespaced, short=(), sub=(), fields=(), verbs=ALL_VERBS, cats=()):
    return ResourceType("", "v1", plural, kind, namespaced, kind.lower(), tuple(short), verbs, tuple(sub),
                        tuple(fields), (), tuple(cats))


BUILTIN: tuple[ResourceType, ...] = (
    _core("pods", "Pod", True, ("po",), ("status",),
          ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
           "status.phase", "status.podIP", "status.nominatedNodeName"), cats=("all",)),
    _core("nodes", "Node", False, ("no",), ("status",), ("spec.unschedulable",)),
    _core("namespaces", "Namespace", False, ("ns",), ("status",), ("status.phase",),
          ("create", "delete", "get", "list", "patch", "update", "watch")),
    _core("secrets", "Secret", True, (), (), ("type",)),
    _core("configmaps", "ConfigMap", True, ("cm",)),
    _core("events", "Event", True, ("ev",), (),
          ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
           "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
           "reason", "reportingComponent", "source", "type")),
    _core("serviceaccounts", "ServiceAccount", True, ("sa",), ("token",)),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, "lease"),
    # Stored apart from core/v1 events (no conversion between the two shapes): see README.
    ResourceType("events.k8s.io", "v1", "events", "Event", True, "event", ("ev",)),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 "customresourcedefinition", ("crd", "crds"), ALL_VERBS, ("status",)),
)

CRD_GR = ("apiextensions.k8s.io", "customresourcedefinitions")


def crd_types(crd: dict) -> list[ResourceType]:
    """The served versions of a CRD as resource types; raise ApiError(422) for a CRD the server would refuse."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    name = (crd.get("metadata") or {}).get("name", "")
    problems = []
    if not group or not plural or not kind:
        problems.append("spec.group, spec.names.plural and spec.names.kind are required")
    elif name != f"{plural}.{group}":
        problems.append(f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        problems.append('spec.scope: Unsupported value: must be "Namespaced" or "Cluster"')
    versions = spec.get("versions") or []
    if not versions or sum(bool(v.get("storage")) for v in versions) != 1:
        problems.append("spec.versions: Invalid value: must have exactly one version marked as storage version")
    if problems:
        raise ApiError(422, f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: '
                            + "; ".join(problems), "Invalid")
    out = []
    for v in versions:
        if not v.get("served", True):
            continue
        sub = ("status",) if "status" in (v.get("subresources") or {}) else ()
        out.append(ResourceType(group, v["name"], plural, kind, spec["scope"] == "Namespaced",
                                names.get("singular") or kind.lower(), tuple(names.get("shortNames") or ()),
                                ALL_VERBS, sub, (), tuple(v.get("additionalPrinterColumns") or ()),
                                tuple(names.get("categories") or ()), True))
    return out


def established_status(crd: dict) -> dict:
    """The status the apiextensions controller writes once a CRD is served (here: at once)."""
    spec = crd.get("spec") or {}
    now = (crd.get("metadata") or {}).get("creationTimestamp")
    cond = lambda t, reason, msg: {"type": t, "status": "True", "lastTransitionTime": now,  # noqa: E731
                                   "reason": reason, "message": msg}
    return {"acceptedNames": dict(spec.get("names") or {}),
            "conditions": [cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                           cond("Established", "InitialNamesAccepted", "the initial names have been accepted")],
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")]}


def pick(types: list[ResourceType], name: str, group: Optional[str] = None) -> ResourceType:
    """Resolve a name as kubectl would (`pods`, `pod`, `po`, `Pod`, `azureidentities.aadpodidentity.k8s.io`)."""
    if group is None and "." in name:
        name, group = name.split(".", 1)
    low = name.lower()
    hits = [t for t in types if low in t.names() and (group is None or t.group == group)]
    if not hits:
        raise ApiError(404, f'the server doesn\'t have a resource type "{name}"', "NotFound")
    # Prefer the core group (as kubectl does for `events`), then the first registered version.
    hits.sort(key=lambda t: (t.group != "", t.group))
    return hits[0]
