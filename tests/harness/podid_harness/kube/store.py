# SPDX-License-Identifier: Apache-2.0
"""Objects, the one resource-version counter and the change history, as etcd plus the watch cache keep them.

Every write takes the next value of one global counter (as etcd's revision), is appended to a bounded history
(`history_window` events; older ones are compacted, and a watch or continue from before the compaction point gets
410 Expired) and is offered to every open watch. Watches filter by selectors the way the real server does: an
object that starts to match is ADDED, one that stops matching is DELETED.
"""
from __future__ import annotations

import collections
import copy
import datetime
import queue
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

from . import errors
from .resources import ResourceType

Key = tuple[str, str]            # (namespace or "", name)
GR = tuple[str, str]             # (group, plural)


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Change:
    rv: int
    type: str                    # ADDED, MODIFIED, DELETED
    gr: GR
    obj: dict
    old: Optional[dict]


class Watcher:
    """One open watch. The store pushes (type, object) items; the HTTP layer drains `q`."""

    def __init__(self, gr: GR, match: Callable[[dict], bool], label: str = "") -> None:
        self.gr, self.match, self.label = gr, match, label
        self.q: "queue.Queue[tuple[str, object]]" = queue.Queue()

    def offer(self, ch: Change) -> None:
        if ch.gr != self.gr:
            return
        now_in = self.match(ch.obj)
        was_in = ch.old is not None and self.match(ch.old)
        if ch.type == "DELETED":
            typ = "DELETED" if (now_in or was_in) else None
        elif ch.type == "ADDED":
            typ = "ADDED" if now_in else None
        else:
            typ = {(True, True): "MODIFIED", (False, True): "ADDED", (True, False): "DELETED"}.get((was_in, now_in))
        if typ:
            self.q.put((typ, ch.obj))


class Store:
    def __init__(self, history_window: int = 1000) -> None:
        self.lock = threading.RLock()
        self.rv = 1
        self.compacted_rv = 0    # a watch from below this has lost events
        self._objects: dict[GR, dict[Key, dict]] = collections.defaultdict(dict)
        self._history: collections.deque[Change] = collections.deque()
        self._window = max(1, history_window)
        self._watchers: set[Watcher] = set()
        self.on_change: list[Callable[[Change], None]] = []   # hooks (CRD registration)

    # ---- reads -------------------------------------------------------------------------------------------
    def _current(self, rt: ResourceType, ns: str, name: str) -> tuple[GR, Key, dict]:
        """The stored object itself (not a copy: callers hold the lock), or 404."""
        key = (ns if rt.namespaced else "", name)
        obj = self._objects[rt.gr].get(key)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return rt.gr, key, obj

    def get(self, rt: ResourceType, ns: str, name: str) -> dict:
        with self.lock:
            return copy.deepcopy(self._current(rt, ns, name)[2])

    def find(self, rt: ResourceType, ns: str, name: str) -> Optional[dict]:
        try:
            return self.get(rt, ns, name)
        except errors.ApiError:
            return None

    def list(self, rt: ResourceType, ns: Optional[str], match: Callable[[dict], bool],
             at_rv: Optional[int] = None) -> tuple[list[dict], int]:
        """The objects as they are now, or (`at_rv`, what a continue token names) as they were at that revision,
        as etcd serves every page of one list from the first page's revision. `at_rv` must not be compacted."""
        with self.lock:
            objects = self._objects[rt.gr]
            if at_rv is not None and at_rv < self.rv:
                objects = self._objects_at(rt.gr, at_rv)
            items = [copy.deepcopy(o) for (ons, _), o in sorted(objects.items())
                     if (not ns or ons == ns) and match(o)]
            return items, self.rv if at_rv is None else at_rv

    def _objects_at(self, gr: GR, rv: int) -> dict[Key, dict]:
        """The objects of `gr` at revision `rv`: the current ones with every later change undone."""
        out = dict(self._objects[gr])
        for ch in reversed(self._history):
            if ch.rv <= rv:
                break
            if ch.gr != gr:
                continue
            md = ch.obj["metadata"]
            key = (md.get("namespace", ""), md["name"])
            if ch.type == "ADDED":
                out.pop(key, None)
            elif ch.old is not None:
                out[key] = ch.old
        return out

    def count(self, gr: GR) -> int:
        with self.lock:
            return len(self._objects[gr])

    # ---- writes ------------------------------------------------------------------------------------------
    def create(self, rt: ResourceType, obj: dict, keep_uid: bool = False) -> dict:
        """`keep_uid`: keep a uid the object already carries (test set-up: a simulated pod's cgroups are named
        after its uid, so the API object must carry that one); HTTP creates always get a fresh one."""
        with self.lock:
            md = obj.setdefault("metadata", {})
            if not md.get("name") and md.get("generateName"):
                md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
            key = (md.get("namespace", "") if rt.namespaced else "", md["name"])
            gr = rt.gr
            if key in self._objects[gr]:
                raise errors.already_exists(rt.plural, rt.group, md["name"])
            if not (keep_uid and md.get("uid")):
                md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            md["generation"] = 1
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                md.pop(k, None)
            self._objects[gr][key] = obj
            self._record("ADDED", gr, obj, None)
            return copy.deepcopy(obj)

    def update(self, rt: ResourceType, ns: str, name: str, mutate: Callable[[dict], dict],
               subresource: Optional[str] = None, check_rv: bool = True) -> dict:
        """Read-modify-write under the lock. `mutate` gets a copy of the current object and returns the new one;
        a resourceVersion it leaves set must equal the current one (optimistic concurrency)."""
        with self.lock:
            gr, key, old = self._current(rt, ns, name)
            new = mutate(copy.deepcopy(old))
            md = new.setdefault("metadata", {})
            want_rv = md.get("resourceVersion")
            if check_rv and want_rv not in (None, "") and str(want_rv) != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            if md.get("uid") not in (None, "", old["metadata"]["uid"]):
                raise errors.conflict(rt.plural, rt.group, name)
            if md.get("name", name) != name or (rt.namespaced and md.get("namespace", ns) != ns):
                raise errors.bad_request("the name of the object does not match the name on the URL")
            new = self._merge_protected(rt, old, new, subresource)
            if _same(old, new):
                return copy.deepcopy(old)   # a no-op write is not a write: no new resourceVersion, no event
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                del self._objects[gr][key]
                self._record("DELETED", gr, new, old)
                return copy.deepcopy(new)
            self._objects[gr][key] = new
            self._record("MODIFIED", gr, new, old)
            return copy.deepcopy(new)

    def delete(self, rt: ResourceType, ns: str, name: str, preconditions: Optional[dict] = None) -> dict:
        with self.lock:
            gr, key, old = self._current(rt, ns, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"] or \
                    pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(old)
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                self._objects[gr][key] = new
                self._record("MODIFIED", gr, new, old)
                return copy.deepcopy(new)
            del self._objects[gr][key]
            gone = copy.deepcopy(old)
            self._record("DELETED", gr, gone, old)
            return copy.deepcopy(gone)

    def drop_all(self, gr: GR) -> None:
        """Remove every object of a type (its CRD was deleted), each with a DELETED event."""
        with self.lock:
            for key in list(self._objects[gr]):
                old = self._objects[gr].pop(key)
                self._record("DELETED", gr, copy.deepcopy(old), old)

    @staticmethod
    def _merge_protected(rt: ResourceType, old: dict, new: dict, subresource: Optional[str]) -> dict:
        omd = old["metadata"]
        if subresource == "status":
            out = copy.deepcopy(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            return out
        md = new["metadata"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        md["name"] = omd["name"]
        if "namespace" in omd:
            md["namespace"] = omd["namespace"]
        new["apiVersion"], new["kind"] = old.get("apiVersion"), old.get("kind")
        if "status" in rt.subresources:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        spec_of = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}  # noqa: E731
        if spec_of(new) != spec_of(old):
            md["generation"] = int(omd.get("generation", 1)) + 1
        return new

    def _record(self, typ: str, gr: GR, obj: dict, old: Optional[dict]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        ch = Change(self.rv, typ, gr, copy.deepcopy(obj), copy.deepcopy(old) if old is not None else None)
        self._history.append(ch)
        while len(self._history) > self._window:
            self.compacted_rv = self._history.popleft().rv
        for w in list(self._watchers):
            w.offer(ch)
        for hook in self.on_change:
            hook(ch)

    # ---- watches -----------------------------------------------------------------------------------------
    def watch(self, w: Watcher, since: Optional[int], initial: Callable[[], list[dict]]) -> None:
        """Register `w`. With `since`, replay history after it (410 if compacted); without, send the current
        objects as ADDED (what the server does for a watch with resourceVersion unset or "0")."""
        with self.lock:
            if since is None:
                for obj in initial():
                    w.q.put(("ADDED", obj))
            else:
                if since < self.compacted_rv:
                    raise errors.expired(f"too old resource version: {since} ({self.compacted_rv + 1})")
                for ch in self._history:
                    if ch.rv > since:
                        w.offer(ch)
            self._watchers.add(w)

    def unwatch(self, w: Watcher) -> None:
        with self.lock:
            self._watchers.discard(w)

    def progress(self, w: Watcher) -> None:
        """Queue a bookmark at the current revision, ordered after every event already queued to `w`."""
        with self.lock:
            w.q.put(("BOOKMARK", self.rv))

    def watchers(self) -> list[Watcher]:
        with self.lock:
            return list(self._watchers)

    def end_watches(self, how: str) -> None:
        """`how` = "DROP" (cut connections) or "END" (close streams cleanly)."""
        with self.lock:
            for w in list(self._watchers):
                w.q.put((how, None))


def _same(a: dict, b: dict) -> bool:
    strip = lambda o: {**o, "metadata": {k: v for k, v in o["metadata"].items()  # noqa: E731
                                         if k != "resourceVersion"}}
    return strip(a) == strip(b)
