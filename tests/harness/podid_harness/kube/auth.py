# SPDX-License-Identifier: Apache-2.0
"""Who is calling (bearer tokens) and what they may do: a per-user and per-group allow-list of (verbs, groups,
resources, namespace) rules, so that a missing RBAC rule in podid's manifests fails a test the way it fails in a
cluster, with the same 403 message. Groups come from client certificates (client_certs.py); the Node
authorizer's one rule podid relies on is in node_auth.py."""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from .errors import ApiError

ADMIN_USER = "podid-harness-admin"


@dataclass(frozen=True)
class Rule:
    """Allows `verbs` on `resources` ("pods", "pods/status", "*") of API `groups` ("" = core, "*"), in
    `namespace` (None = every namespace and cluster-scoped resources)."""
    verbs: tuple[str, ...]
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    namespace: Optional[str] = None

    def allows(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        def hit(want: str, have: Sequence[str]) -> bool:
            return "*" in have or want in have
        return (hit(verb, self.verbs) and hit(group, self.groups) and hit(resource, self.resources)
                and (self.namespace is None or self.namespace == namespace))


RuleLike = Union[Rule, tuple, dict]


def _as_tuple(v) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


def rule(r: RuleLike) -> Rule:
    """Accept Rule, a (verbs, groups, resources[, namespace]) tuple or a dict of those keys; each of verbs,
    groups and resources may be a string or a list."""
    if isinstance(r, Rule):
        return r
    if isinstance(r, dict):
        return Rule(_as_tuple(r["verbs"]), _as_tuple(r.get("groups", r.get("apiGroups", ("",)))),
                    _as_tuple(r["resources"]), r.get("namespace"))
    verbs, groups, resources, *ns = r
    return Rule(_as_tuple(verbs), _as_tuple(groups), _as_tuple(resources), ns[0] if ns else None)


class Authorizer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}          # token -> user
        self._rules: dict[str, list[Rule]] = {}    # user -> rules
        self._group_rules: dict[str, list[Rule]] = {}   # group -> rules (RBAC bindings to a Group subject)
        self.admin_token = self.add_token(ADMIN_USER, [Rule(("*",), ("*",), ("*",))])

    def add_token(self, user: str, rules: Iterable[RuleLike] = (), token: Optional[str] = None) -> str:
        token = token or secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = user
            self._rules.setdefault(user, []).extend(rule(r) for r in rules)
        return token

    def grant(self, user: str, rules: Iterable[RuleLike]) -> None:
        """Give rules to a user that authenticates some other way (service-account JWTs from TokenRequest)."""
        with self._lock:
            self._rules.setdefault(user, []).extend(rule(r) for r in rules)

    def grant_group(self, group: str, rules: Iterable[RuleLike]) -> None:
        """Rules for every member of `group` (e.g. system:nodes, as a ClusterRoleBinding to a Group)."""
        with self._lock:
            self._group_rules.setdefault(group, []).extend(rule(r) for r in rules)

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def user_for(self, token: str) -> Optional[str]:
        with self._lock:
            return self._tokens.get(token)

    def allows(self, user: str, groups: tuple[str, ...], verb: str, group: str, resource: str,
               namespace: str) -> bool:
        with self._lock:
            rules = list(self._rules.get(user, ()))
            for g in groups:
                rules.extend(self._group_rules.get(g, ()))
        return any(r.allows(verb, group, resource, namespace) for r in rules)

    def check(self, user: str, verb: str, group: str, resource: str, subresource: str, namespace: str,
              name: str, groups: tuple[str, ...] = (), denied_because: str = "") -> None:
        """Allowed, or the 403 the API server answers; `denied_because` is another authorizer's reason, which
        the real server appends to the message."""
        full = f"{resource}/{subresource}" if subresource else resource
        if self.allows(user, groups, verb, group, full, namespace):
            return
        what = f'{resource} "{name}"' if name else resource
        if group:
            what = f'{resource}.{group} "{name}"' if name else f"{resource}.{group}"
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        why = f": {denied_because}" if denied_because else ""
        raise ApiError(403, f'{what} is forbidden: User "{user}" cannot {verb} resource "{full}" in API group '
                            f'"{group}" {where}{why}', "Forbidden",
                       details={"name": name or None, "group": group or None, "kind": resource})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")
