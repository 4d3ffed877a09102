# SPDX-License-Identifier: Apache-2.0
"""What confines a kubelet's credential (user `system:node:<node>`, group `system:nodes`) when it asks for a
service-account token, as the real API server enforces it: the Node authorizer and the NodeRestriction
admission plugin. podid's preferred design (docs/security.md) rests on exactly these rules, so the stand-in
enforces them and a test that breaks them fails:

- Node authorizer: `create serviceaccounts/token` only for a service account that a pod bound to that node
  uses; otherwise 403 "... no relationship found between node '<node>' and this object".
- NodeRestriction (`admitServiceAccount`): the TokenRequest must be bound to a Pod (apiVersion v1, a name and a
  non-empty uid), the uid must be the pod's, the pod must be scheduled on the requesting node, and
  (ServiceAccountNodeAudienceRestriction, on by default since 1.33) at most one audience, which a volume of the
  pod references or which the node is authorized for through RBAC verb `request-serviceaccounts-token-audience`
  on the audience as resource (and the service account as resourceName).
Messages are the plugin's, wrapped as NewForbidden wraps them (`serviceaccounts "<sa>" is forbidden: ...`).
"""
from __future__ import annotations

from typing import Callable, Optional

from .errors import ApiError

NODE_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
AUDIENCE_VERB = "request-serviceaccounts-token-audience"


def node_of(user: str, groups: tuple[str, ...]) -> Optional[str]:
    """The node a user authenticates as (the Node authorizer's rule: name prefix and the system:nodes group)."""
    if user.startswith(NODE_USER_PREFIX) and NODE_GROUP in groups:
        return user[len(NODE_USER_PREFIX):] or None
    return None


def _forbidden(sa: str, why: str) -> ApiError:
    return ApiError(403, f'serviceaccounts "{sa}" is forbidden: {why}', "Forbidden",
                    details={"name": sa, "kind": "serviceaccounts"})


def node_may_create_token(pods_on: Callable[[str], list[dict]], node: str, namespace: str, sa: str) -> bool:
    """The Node authorizer's graph, for this one edge: some pod bound to `node` runs as `namespace/sa`."""
    return any((p.get("metadata") or {}).get("namespace") == namespace
               and (p.get("spec") or {}).get("serviceAccountName", "default") == sa for p in pods_on(node))


def no_relationship(node: str) -> str:
    return f"no relationship found between node '{node}' and this object"


def admit_node_token_request(node: str, namespace: str, sa: str, spec: dict, get_pod: Callable[[str], dict],
                             audience_allowed: Callable[[str], bool], audience_restriction: bool = True) -> None:
    """NodeRestriction's admitServiceAccount; raises the API's error, returns when admitted."""
    ref = spec.get("boundObjectRef")
    if not isinstance(ref, dict) or ref.get("apiVersion") != "v1" or ref.get("kind") != "Pod" or not ref.get("name"):
        raise _forbidden(sa, "node requested token not bound to a pod")
    if not ref.get("uid"):
        raise _forbidden(sa, "node requested token with a pod binding without a uid")
    pod = get_pod(ref["name"])          # NotFound propagates as itself, as in the plugin
    uid = pod["metadata"]["uid"]
    if ref["uid"] != uid:
        raise _forbidden(sa, f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                             f"record ({uid}). The object might have been deleted and then recreated")
    if (pod.get("spec") or {}).get("nodeName") != node:
        raise _forbidden(sa, "node requested token bound to a pod scheduled on a different node")
    if not audience_restriction:
        return
    audiences = list(spec.get("audiences") or [])
    if len(audiences) > 1:
        raise _forbidden(sa, "node may only request 0 or 1 audiences")
    if not audiences:
        return
    audience = audiences[0]
    if _pod_references_audience(pod, audience) or audience_allowed(audience):
        return
    raise _forbidden(sa, f'audience "{audience}" not found in pod spec volume, {NODE_USER_PREFIX}{node} is not '
                         f"authorized to request tokens for this audience")


def _pod_references_audience(pod: dict, audience: str) -> bool:
    """A projected serviceAccountToken source with this audience (the CSI routes are not modelled)."""
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        for source in ((volume.get("projected") or {}).get("sources") or ()):
            token = source.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("audience", "") == audience:
                return True
    return False
