# SPDX-License-Identifier: Apache-2.0
"""Structural schemas of custom resources: pruning, validation with the API server's 422 messages, and the CEL
subset the stand-in evaluates, through create, update (PUT) and patch."""
import copy

import pytest

from podid_harness.kube.errors import ApiError
from podid_harness.kube.schema import Cel, admit, prune, validate

GADGETS = "/apis/example.podid.io/v1/namespaces/default/gadgets"

SPEC_SCHEMA = {
    "type": "object",
    "required": ["id"],
    "x-kubernetes-validations": [
        {"rule": "has(self.owner) || has(self.Owner)", "message": "owner is required (in either spelling)"},
        {"rule": "!has(self.size) || self.size != 2 || (has(self.id) && self.id.startsWith('big-'))"},
    ],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z]+-[0-9]+$", "maxLength": 12},
        "owner": {"type": "string", "minLength": 1},
        "Owner": {"type": "string", "minLength": 1},
        "size": {"type": "integer", "enum": [0, 1, 2]},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
        "port": {"x-kubernetes-int-or-string": True},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        "note": {"type": "string", "nullable": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "conditions": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                       "items": {"type": "object", "required": ["type"],
                                 "properties": {"type": {"type": "string"}, "status": {"type": "string"}}}},
        "either": {"anyOf": [{"type": "string", "x-kubernetes-int-or-string": True, "pattern": "^a"},
                             {"x-kubernetes-int-or-string": True, "maxLength": 0}]},
        "not_b": {"type": "string", "not": {"pattern": "^b"}},
    },
}
SCHEMA = {"type": "object", "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                           "metadata": {"type": "object"}, "spec": SPEC_SCHEMA,
                                           "status": {"type": "object",
                                                      "properties": {"phase": {"type": "string",
                                                                               "enum": ["A", "B"]}}}}}
GADGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.podid.io"},
    "spec": {"group": "example.podid.io", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": SCHEMA}}]}}


BLOCKED = ('Invalid value: "null": some validation rules were not checked because the object was invalid; '
           'correct the existing errors to complete validation')


def gadget(name="g", **spec) -> dict:
    body = {"id": "abc-1", "owner": "me"}
    body.update(spec)
    return {"apiVersion": "example.podid.io/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": body}


@pytest.fixture
def gadgets(client):
    client.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", GADGET_CRD)
    return client


def refused(client, method, path, body, ctype="application/json"):
    status, out, _ = client.call(method, path, body, ctype)
    assert status == 422, (status, out)
    assert out["reason"] == "Invalid" and out["kind"] == "Status"
    return out


def test_pattern_failure_is_the_servers_message(gadgets):
    out = refused(gadgets, "POST", GADGETS, gadget(id="Bad_1"))
    assert out["message"] == ('Gadget.example.podid.io "g" is invalid: spec.id: Invalid value: "Bad_1": spec.id in '
                              "body should match '^[a-z]+-[0-9]+$'")
    assert out["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.id",
                                         "message": "Invalid value: \"Bad_1\": spec.id in body should match "
                                                    "'^[a-z]+-[0-9]+$'"}]
    assert gadgets.call("GET", GADGETS + "/g")[0] == 404   # nothing stored


@pytest.mark.parametrize("spec, cause", [
    ({"size": 3}, 'spec.size: Unsupported value: 3: supported values: "0", "1", "2"'),
    ({"size": "1"}, '[spec.size: Invalid value: "string": spec.size in body must be of type integer: "string", '
                    'Invalid value: "null": some validation rules were not checked because the object was invalid; '
                    'correct the existing errors to complete validation]'),
    ({"count": 11}, "spec.count: Invalid value: 11: spec.count in body should be less than or equal to 10"),
    ({"count": -1}, "spec.count: Invalid value: -1: spec.count in body should be greater than or equal to 0"),
    ({"ratio": 0}, "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0"),
    ({"id": "abcdefghijk-1"}, "spec.id: Too long: may not be longer than 12"),
    ({"owner": ""}, 'spec.owner: Invalid value: "": spec.owner in body should be at least 1 chars long'),
    ({"tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
    ({"tags": ["a", 1]}, '[spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: '
                         '"integer", ' + BLOCKED + ']'),
    ({"labels": {"k": 1}}, '[spec.labels.k: Invalid value: "integer": spec.labels.k in body must be of type string: '
                           '"integer", ' + BLOCKED + ']'),
    ({"port": True}, '[spec.port: Invalid value: "boolean": spec.port in body must be of type integer-or-string: '
                     '"boolean", ' + BLOCKED + ']'),
    ({"conditions": [{"type": "A"}, {"type": "A"}]}, 'spec.conditions[1]: Duplicate value: {"type": "A"}'),
    ({"conditions": [{"status": "x"}]}, "spec.conditions[0].type: Required value"),
    ({"either": "b"}, 'spec.either: Invalid value: "b": spec.either in body must validate at least one schema '
                      '(anyOf)'),
    ({"not_b": "bee"}, 'spec.not_b: Invalid value: "bee": spec.not_b in body must not validate the schema (not)'),
    ({"owner": None, "Owner": "x", "id": None}, "spec.id: Required value"),
])
def test_each_constraint_refuses_with_its_message(gadgets, spec, cause):
    out = refused(gadgets, "POST", GADGETS, gadget(**spec))
    assert out["message"] == f'Gadget.example.podid.io "g" is invalid: {cause}'


@pytest.mark.parametrize("spec", [{"port": 80}, {"port": "http"}, {"either": "abc"}, {"either": ""},
                                  {"not_b": "a"}, {"Owner": "x", "owner": None}, {"size": 2, "id": "big-1"},
                                  {"ratio": 0.5}, {"note": None}])
def test_valid_objects_are_stored(gadgets, spec):
    gadgets.ok("POST", GADGETS, gadget(**spec))


def test_several_failures_are_listed_together(gadgets):
    out = refused(gadgets, "POST", GADGETS, gadget(size=7, count=20))
    assert out["message"] == ('Gadget.example.podid.io "g" is invalid: [spec.size: Unsupported value: 7: supported '
                              'values: "0", "1", "2", spec.count: Invalid value: 20: spec.count in body should be '
                              'less than or equal to 10]')
    assert [c["field"] for c in out["details"]["causes"]] == ["spec.size", "spec.count"]


def test_cel_rules_with_and_without_a_message(gadgets):
    body = gadget()
    del body["spec"]["owner"]
    out = refused(gadgets, "POST", GADGETS, body)
    assert out["message"] == ('Gadget.example.podid.io "g" is invalid: spec: Invalid value: "object": owner is '
                              'required (in either spelling)')
    out = refused(gadgets, "POST", GADGETS, gadget(size=2))
    assert out["message"].endswith("spec: Invalid value: \"object\": failed rule: !has(self.size) || self.size != 2 "
                                   "|| (has(self.id) && self.id.startsWith('big-'))")


def test_unknown_fields_and_disallowed_nulls_are_pruned(gadgets):
    body = gadget(extra=1, note=None, free={"any": {"thing": [1]}}, labels={"a": "b"})
    body["spec"]["count"] = None
    body["topLevel"] = "x"
    stored = gadgets.ok("POST", GADGETS, body)
    assert "topLevel" not in stored and "extra" not in stored["spec"] and "count" not in stored["spec"]
    assert stored["spec"]["note"] is None                    # nullable: kept
    assert stored["spec"]["free"] == {"any": {"thing": [1]}}  # x-kubernetes-preserve-unknown-fields
    assert stored["spec"]["labels"] == {"a": "b"}
    assert stored["metadata"]["name"] == "g" and stored["metadata"]["uid"]


def test_update_and_patch_are_validated_and_a_refusal_changes_nothing(gadgets):
    created = gadgets.ok("POST", GADGETS, gadget())
    bad = copy.deepcopy(created)
    bad["spec"]["size"] = 9
    out = refused(gadgets, "PUT", GADGETS + "/g", bad)
    assert "spec.size: Unsupported value: 9" in out["message"]
    out = refused(gadgets, "PATCH", GADGETS + "/g", {"spec": {"id": "NOPE"}}, "application/merge-patch+json")
    assert "spec.id: Invalid value: \"NOPE\"" in out["message"]
    out = refused(gadgets, "PATCH", GADGETS + "/g", [{"op": "remove", "path": "/spec/owner"}],
                  "application/json-patch+json")
    assert "owner is required" in out["message"]
    after = gadgets.ok("GET", GADGETS + "/g")
    assert after["spec"] == created["spec"]
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    ok = gadgets.ok("PATCH", GADGETS + "/g", {"spec": {"size": 1, "junk": True}}, "application/merge-patch+json")
    assert ok["spec"]["size"] == 1 and "junk" not in ok["spec"]


def test_status_subresource_writes_are_validated(gadgets):
    created = gadgets.ok("POST", GADGETS, gadget())
    created["status"] = {"phase": "C"}
    out = refused(gadgets, "PUT", GADGETS + "/g/status", created)
    assert 'status.phase: Unsupported value: "C": supported values: "A", "B"' in out["message"]
    created["status"] = {"phase": "A"}
    assert gadgets.ok("PUT", GADGETS + "/g/status", created)["status"] == {"phase": "A"}


def test_a_cel_rule_outside_the_subset_is_a_loud_500(gadgets):
    crd = copy.deepcopy(GADGET_CRD)
    crd["metadata"]["name"] = "gizmos.example.podid.io"
    crd["spec"]["names"] = {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"}
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                                  "x-kubernetes-validations": [{"rule": "self.all(k, k != 'x')"}]}}}
    gadgets.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    status, out, _ = gadgets.call("POST", "/apis/example.podid.io/v1/namespaces/default/gizmos",
                                  {"metadata": {"name": "z"}, "spec": {}})
    assert status == 500 and "cannot evaluate the CEL rule" in out["message"] and "all" in out["message"]


def test_crd_without_a_schema_or_preserving_everything_accepts_anything(client):
    from conftest import WIDGET_CRD
    client.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    w = client.ok("POST", "/apis/example.podid.io/v1/namespaces/default/widgets",
                  {"metadata": {"name": "w"}, "spec": {"anything": [1, {"x": None}]}, "more": 1})
    assert w["spec"] == {"anything": [1, {"x": None}]} and w["more"] == 1


# ---- the pieces, without HTTP -----------------------------------------------------------------------------
@pytest.mark.parametrize("rule, value, holds", [
    ("has(self.a) || has(self.b)", {"b": 1}, True),
    ("has(self.a) || has(self.b)", {}, False),
    ("self.a == 1 || has(self.b)", {"b": 1}, True),          # the error on the left is absorbed
    ("self.a == 1 || has(self.b)", {}, False),               # an error that decides: the rule fails
    ("has(self.a) && self.a.matches('^x[0-9]+$')", {"a": "x12"}, True),
    ("has(self.a) && self.a.matches('^x[0-9]+$')", {"a": "y"}, False),
    ("size(self.l) <= 2 && self.l.size() >= 1", {"l": [1, 2]}, True),
    ("self.t in [0, 1] ? self.t != 1 : false", {"t": 0}, True),
    ("self.t in [0, 1] ? self.t != 1 : false", {"t": 1}, False),
    ("!(self.s == 'a') && -self.n < 0", {"s": "b", "n": 2}, True),
    ("self.s == 1", {"s": "1"}, False),                      # no overload: a type error fails the rule
    ("self.m['k'] == \"v\"", {"m": {"k": "v"}}, True),
    ("self.s.endsWith('z') || self.s.contains('q')", {"s": "aqa"}, True),
])
def test_cel_subset(rule, value, holds):
    assert Cel(rule).holds(value) is holds


@pytest.mark.parametrize("rule", ["self.all(x, x > 0)", "self.a +", "has(self)", "self.a = 1", "int(self.a) > 0"])
def test_cel_outside_the_subset_is_refused(rule):
    with pytest.raises(ApiError) as e:
        Cel(rule).holds({"a": 1})
    assert e.value.code == 500 and rule in e.value.message


def test_prune_keeps_embedded_resource_metadata_and_root_metadata():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ref": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"x": {"type": "string"}}},
        "vestigial": {"type": "object"}}}}}
    obj = {"apiVersion": "v", "kind": "K", "metadata": {"name": "n", "labels": {"a": "b"}},
           "spec": {"ref": {"apiVersion": "v", "kind": "K", "metadata": {"name": "r"}, "x": "1", "y": 2},
                    "vestigial": {"name": "dropped"}}}
    out = prune(schema, obj, root=True)
    assert out["metadata"] == obj["metadata"]
    assert out["spec"]["ref"] == {"apiVersion": "v", "kind": "K", "metadata": {"name": "r"}, "x": "1"}
    assert out["spec"]["vestigial"] == {}


def test_admit_without_schema_and_validate_of_nulls():
    assert admit("K", "g", None, {"anything": 1}) == {"anything": 1}
    causes = validate({"type": "string"}, None, "spec.x")
    assert [str(c) for c in causes] == ['spec.x: Invalid value: "null": spec.x in body must be of type string: '
                                        '"null"', BLOCKED]
    assert validate({"type": "string", "nullable": True}, None, "spec.x") == []
    assert [str(c) for c in validate({"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 5}]}, 3, "n")] == \
        ["n: Invalid value: 3: n in body must validate one and only one schema (oneOf)"]
    assert [str(c) for c in validate({"allOf": [{"minimum": 5}]}, 3, "n")] == \
        ["n: Invalid value: 3: n in body should be greater than or equal to 5"]
