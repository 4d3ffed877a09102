# SPDX-License-Identifier: Apache-2.0
"""Structural-schema handling of custom resources, as the API server does it on create, update and patch:
prune the fields the schema does not declare, then validate what is left, and refuse the write with the
server's 422 message when anything fails:

    AzureIdentity.aadpodidentity.k8s.io "x" is invalid: spec.resourceID: Invalid value: "..": spec.resourceID in
    body should match '...'

Covered: type (with nullable and x-kubernetes-int-or-string), properties, additionalProperties, required,
enum, pattern, minLength/maxLength, minimum/maximum (and exclusive), multipleOf, minItems/maxItems,
uniqueItems, minProperties/maxProperties, items, anyOf/oneOf/allOf/not, x-kubernetes-preserve-unknown-fields,
x-kubernetes-embedded-resource (its apiVersion/kind/metadata survive pruning), x-kubernetes-list-type map/set
uniqueness, and x-kubernetes-validations whose CEL rules use the subset `Cel` below evaluates. A rule outside
that subset is a 500 naming the rule, never a silent pass. Not covered: `format` checks, defaulting, ratcheting,
CEL cost limits, transition rules (`oldSelf`).
"""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from .errors import ApiError

_MISSING = object()


# ---- validation --------------------------------------------------------------------------------------------
class _Cause:
    """One field.Error: `<field>: <text>`, with the reason Status.details.causes carries."""

    def __init__(self, field: str, reason: str, text: str) -> None:
        self.field, self.reason, self.text = field, reason, text

    def __str__(self) -> str:
        return f"{self.field}: {self.text}" if self.field else self.text


def _shown(value) -> str:
    """A value as field.Invalid prints it (Go %#v for scalars; strings quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return '"null"'
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(_type_name(value))


def _type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(schema: dict, value) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    want = schema.get("type")
    if not want:
        return True
    if want == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if want == "integer" and isinstance(value, float):
        return value.is_integer()
    return _type_name(value) == want


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _invalid(path: str, value, detail: str) -> _Cause:
    return _Cause(path, "FieldValueInvalid", f"Invalid value: {_shown(value)}: {detail}")


def _body(path: str) -> str:
    return f"{path or 'body'} in body"


_BLOCKED = ('Invalid value: "null": some validation rules were not checked because the object was invalid; '
            'correct the existing errors to complete validation')


def validate(schema: dict, value, path: str = "") -> list[_Cause]:
    """Every way `value` fails `schema` (a structural schema node), as the API server lists them: the OpenAPI
    constraints, then the CEL rules, which the server skips when a value has the wrong type."""
    out = _validate(schema, value, path, rules=False)
    if any(c.reason == "FieldValueTypeInvalid" for c in out):
        return out + [_Cause("", "FieldValueInvalid", _BLOCKED)]
    return out + _validate(schema, value, path, rules=True)


def _validate(schema: dict, value, path: str, rules: bool) -> list[_Cause]:
    """One pass: the OpenAPI constraints (`rules` False) or only the x-kubernetes-validations (`rules` True)."""
    out: list[_Cause] = []
    if rules:
        _rule_checks(schema, value, path, out)
        return out
    if value is None:
        if not schema.get("nullable") and (schema.get("type") or schema.get("x-kubernetes-int-or-string")):
            want = schema.get("type") or "integer-or-string"
            out.append(_Cause(path, "FieldValueTypeInvalid",
                              f'Invalid value: "null": {_body(path)} must be of type {want}: "null"'))
        return out
    if not _type_ok(schema, value):
        want = schema.get("type") if not schema.get("x-kubernetes-int-or-string") else "integer-or-string"
        actual = _type_name(value)
        out.append(_Cause(path, "FieldValueTypeInvalid",
                          f'Invalid value: "{actual}": {_body(path)} must be of type {want}: "{actual}"'))
        return out
    _scalar_checks(schema, value, path, out)
    if isinstance(value, dict):
        _object_checks(schema, value, path, out)
    elif isinstance(value, list):
        _array_checks(schema, value, path, out)
    _combinator_checks(schema, value, path, out)
    return out


def _rule_checks(schema: dict, value, path: str, out: list[_Cause]) -> None:
    if value is None or not _type_ok(schema, value):
        return
    for rule in schema.get("x-kubernetes-validations") or ():
        if not Cel.compiled(rule["rule"]).holds(value):
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            shown = _shown(value) if not isinstance(value, (dict, list)) else json.dumps(_type_name(value))
            out.append(_Cause(path, "FieldValueInvalid", f"Invalid value: {shown}: {message}"))
    if isinstance(value, dict):
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        for key, v in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                _rule_checks(sub, v, _child(path, key), out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            _rule_checks(schema["items"], v, f"{path}[{i}]", out)


def _scalar_checks(schema: dict, value, path: str, out: list[_Cause]) -> None:
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(str(v) if not isinstance(v, str) else v) for v in schema["enum"])
        out.append(_Cause(path, "FieldValueNotSupported", f"Unsupported value: {_shown(value)}: supported values: "
                                                          f"{allowed}"))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(_Cause(path, "FieldValueTooLong", f"Too long: may not be longer than {schema['maxLength']}"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(_invalid(path, value, f"{_body(path)} should be at least {schema['minLength']} chars long"))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(_invalid(path, value, f"{_body(path)} should match '{schema['pattern']}'"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema:
            lo = schema["minimum"]
            if schema.get("exclusiveMinimum") and value <= lo:
                out.append(_invalid(path, value, f"{_body(path)} should be greater than {lo}"))
            elif value < lo:
                out.append(_invalid(path, value, f"{_body(path)} should be greater than or equal to {lo}"))
        if "maximum" in schema:
            hi = schema["maximum"]
            if schema.get("exclusiveMaximum") and value >= hi:
                out.append(_invalid(path, value, f"{_body(path)} should be less than {hi}"))
            elif value > hi:
                out.append(_invalid(path, value, f"{_body(path)} should be less than or equal to {hi}"))
        if schema.get("multipleOf") and value % schema["multipleOf"]:
            out.append(_invalid(path, value, f"{_body(path)} should be a multiple of {schema['multipleOf']}"))


def _object_checks(schema: dict, value: dict, path: str, out: list[_Cause]) -> None:
    for name in schema.get("required") or ():
        if name not in value:
            out.append(_Cause(_child(path, name), "FieldValueRequired", "Required value"))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        out.append(_Cause(path, "FieldValueTooMany", f"Too many: {len(value)}: must have at most "
                                                     f"{schema['maxProperties']} items"))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        out.append(_invalid(path, len(value), f"{_body(path)} should have at least {schema['minProperties']} "
                                              f"properties"))
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key, v in value.items():
        if key in props:
            out.extend(_validate(props[key], v, _child(path, key), False))
        elif isinstance(extra, dict):
            out.extend(_validate(extra, v, _child(path, key), False))


def _array_checks(schema: dict, value: list, path: str, out: list[_Cause]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(_Cause(path, "FieldValueTooMany", f"Too many: {len(value)}: must have at most "
                                                     f"{schema['maxItems']} items"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(_invalid(path, len(value), f"{_body(path)} should have at least {schema['minItems']} items"))
    items = schema.get("items")
    if isinstance(items, dict):
        for i, v in enumerate(value):
            out.extend(_validate(items, v, f"{path}[{i}]", False))
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type in ("set", "map"):
        keys = schema.get("x-kubernetes-list-map-keys") or ()
        seen: list = []
        for i, v in enumerate(value):
            key = {k: v.get(k) for k in keys} if list_type == "map" and isinstance(v, dict) else v
            if key in seen:
                out.append(_Cause(f"{path}[{i}]", "FieldValueDuplicate", f"Duplicate value: {json.dumps(key)}"))
            seen.append(key)


def _combinator_checks(schema: dict, value, path: str, out: list[_Cause]) -> None:
    for sub in schema.get("allOf") or ():
        out.extend(_validate(sub, value, path, False))
    if schema.get("anyOf") and not any(not _validate(s, value, path, False) for s in schema["anyOf"]):
        out.append(_invalid(path, value, f"{_body(path)} must validate at least one schema (anyOf)"))
    if schema.get("oneOf") and sum(not _validate(s, value, path, False) for s in schema["oneOf"]) != 1:
        out.append(_invalid(path, value, f"{_body(path)} must validate one and only one schema (oneOf)"))
    if "not" in schema and not _validate(schema["not"], value, path, False):
        out.append(_invalid(path, value, f"{_body(path)} must not validate the schema (not)"))


# ---- pruning -----------------------------------------------------------------------------------------------
def prune(schema: dict, value, root: bool = False):
    """`value` without the fields `schema` does not declare (and without nulls the schema does not allow), as the
    API server stores it. The root's apiVersion, kind and metadata are the server's business and stay."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") or extra is True or isinstance(extra, dict)
        kept = {}
        for key, v in value.items():
            if root and key in ("apiVersion", "kind", "metadata"):
                kept[key] = v
            elif schema.get("x-kubernetes-embedded-resource") and key in ("apiVersion", "kind", "metadata"):
                kept[key] = v
            elif key in props:
                if v is None and not props[key].get("nullable"):
                    continue
                kept[key] = prune(props[key], v)
            elif isinstance(extra, dict):
                kept[key] = prune(extra, v)
            elif keep_unknown:
                kept[key] = v
        return kept
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(schema["items"], v) for v in value]
    return value


def admit(kind: str, group: str, schema: Optional[dict], obj: dict) -> dict:
    """The object as a custom resource write would store it; ApiError(422) with the server's message when it
    fails its schema. `schema` is the version's openAPIV3Schema (None: nothing to check)."""
    if not schema:
        return obj
    pruned = prune(schema, obj, root=True)
    checked = {k: v for k, v in pruned.items() if k != "metadata"}
    causes = validate({**schema, "properties": {k: v for k, v in (schema.get("properties") or {}).items()
                                                if k != "metadata"}}, checked)
    if not causes:
        return pruned
    name = (obj.get("metadata") or {}).get("name", "")
    listed = str(causes[0]) if len(causes) == 1 else "[" + ", ".join(str(c) for c in causes) + "]"
    qualified = f"{kind}.{group}" if group else kind
    details = {"name": name, "group": group or None, "kind": kind,
               "causes": [{"reason": c.reason, "message": c.text, "field": c.field} for c in causes]}
    raise ApiError(422, f'{qualified} "{name}" is invalid: {listed}', "Invalid", details=details)


# ---- CEL (the subset the CRDs use) -------------------------------------------------------------------------
class CelUnsupported(ApiError):
    def __init__(self, rule: str, why: str) -> None:
        super().__init__(500, f"the API stand-in cannot evaluate the CEL rule {rule!r}: {why} (extend "
                              f"podid_harness/kube/schema.py or check the rule on a real API server)")


class _CelError(Exception):
    """A CEL evaluation error (no such key, type mismatch): the rule does not hold."""


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+)|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|"
                    r"(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||==|!=|<=|>=|[!<>?:().,\[\]-]))")


class Cel:
    """A CEL subset: `self`, field selection, has(), size(), .matches/.startsWith/.endsWith/.contains, `in`, int,
    string and bool literals, lists, !, unary -, ==, !=, <, <=, >, >=, &&, || (commutative, errors absorbed as
    CEL does), ?: and parentheses. Anything else raises CelUnsupported."""

    _cache: dict[str, "Cel"] = {}

    @classmethod
    def compiled(cls, rule: str) -> "Cel":
        if rule not in cls._cache:
            cls._cache[rule] = cls(rule)
        return cls._cache[rule]

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        text = rule.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise CelUnsupported(rule, f"unexpected text at {text[pos:pos + 12]!r}")
            kind = m.lastgroup
            val = m.group(kind)
            if kind == "num":
                self.tokens.append(("lit", int(val)))
            elif kind == "str":
                self.tokens.append(("lit", json.loads('"' + val[1:-1].replace('"', '\\"') + '"')
                                    if val[0] == "'" else json.loads(val)))
            elif kind == "id" and val in ("true", "false"):
                self.tokens.append(("lit", val == "true"))
            else:
                self.tokens.append((kind, val))
            pos = m.end()
        self.pos = 0
        self.ast = self._expr()
        if self.pos != len(self.tokens):
            raise CelUnsupported(rule, f"unexpected {self.tokens[self.pos][1]!r}")

    # parsing: an AST of tuples
    def _peek(self, *vals) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos][1] in vals and self.tokens[self.pos][0] != "lit"

    def _take(self, val: str) -> None:
        if not self._peek(val):
            raise CelUnsupported(self.rule, f"expected {val!r}")
        self.pos += 1

    def _expr(self):
        cond = self._binary(0)
        if self._peek("?"):
            self.pos += 1
            a = self._expr()
            self._take(":")
            return ("?", cond, a, self._expr())
        return cond

    _LEVELS = (("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"))

    def _binary(self, level: int):
        if level == len(self._LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while self._peek(*self._LEVELS[level]):
            op = self.tokens[self.pos][1]
            self.pos += 1
            left = (op, left, self._binary(level + 1))
        return left

    def _unary(self):
        if self._peek("!", "-"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            return ("neg" if op == "-" else "!", self._unary())
        return self._member()

    def _member(self):
        node = self._primary()
        while self._peek(".", "["):
            if self.tokens[self.pos][1] == "[":
                self.pos += 1
                index = self._expr()
                self._take("]")
                node = ("index", node, index)
                continue
            self.pos += 1
            kind, name = self.tokens[self.pos] if self.pos < len(self.tokens) else ("", "")
            if kind != "id":
                raise CelUnsupported(self.rule, "expected a field name after '.'")
            self.pos += 1
            if self._peek("("):
                node = ("call", name, [node] + self._args())
            else:
                node = ("field", node, name)
        return node

    def _args(self) -> list:
        self._take("(")
        args = []
        while not self._peek(")"):
            args.append(self._expr())
            if not self._peek(")"):
                self._take(",")
        self._take(")")
        return args

    def _primary(self):
        if self.pos >= len(self.tokens):
            raise CelUnsupported(self.rule, "unexpected end")
        kind, val = self.tokens[self.pos]
        self.pos += 1
        if kind == "lit":
            return ("lit", val)
        if kind == "op" and val == "(":
            node = self._expr()
            self._take(")")
            return node
        if kind == "op" and val == "[":
            items = []
            while not self._peek("]"):
                items.append(self._expr())
                if not self._peek("]"):
                    self._take(",")
            self._take("]")
            return ("list", items)
        if kind == "id" and val == "self":
            return ("self",)
        if kind == "id" and val in ("has", "size"):
            args = self._args()
            if len(args) != 1:
                raise CelUnsupported(self.rule, f"{val}() takes one argument")
            if val == "has" and args[0][0] != "field":
                raise CelUnsupported(self.rule, "has() needs a field selection")
            return (val, args[0])
        raise CelUnsupported(self.rule, f"unsupported {val!r}")

    # evaluation
    def holds(self, value) -> bool:
        try:
            return self._eval(self.ast, value) is True
        except _CelError:
            return False

    def _eval(self, node, this):
        op = node[0]
        if op == "lit":
            return node[1]
        if op == "self":
            return this
        if op == "list":
            return [self._eval(n, this) for n in node[1]]
        if op == "field":
            obj = self._eval(node[1], this)
            if not isinstance(obj, dict) or node[2] not in obj:
                raise _CelError(f"no such key: {node[2]}")
            return obj[node[2]]
        if op == "index":
            obj, key = self._eval(node[1], this), self._eval(node[2], this)
            try:
                return obj[key]
            except (KeyError, IndexError, TypeError) as e:
                raise _CelError(str(e)) from e
        if op == "has":
            obj = self._eval(node[1][1], this)
            return isinstance(obj, dict) and node[1][2] in obj
        if op == "size":
            return self._size(self._eval(node[1], this))
        if op == "!":
            return not self._bool(self._eval(node[1], this))
        if op == "neg":
            return -self._int(self._eval(node[1], this))
        if op in ("||", "&&"):
            return self._logic(op, node[1], node[2], this)
        if op == "?":
            return self._eval(node[2] if self._bool(self._eval(node[1], this)) else node[3], this)
        if op == "call":
            return self._call(node[1], [self._eval(a, this) for a in node[2]])
        a, b = self._eval(node[1], this), self._eval(node[2], this)
        if op == "in":
            if not isinstance(b, (list, dict)):
                raise _CelError("'in' needs a list or map")
            return a in b
        if op in ("==", "!="):
            if type(a) is not type(b) and not (a is None or b is None):
                raise _CelError("no such overload")
            return (a == b) == (op == "==")
        if type(a) is not type(b) or isinstance(a, (bool, dict, list)):
            raise _CelError("no such overload")
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def _logic(self, op: str, left, right, this) -> bool:
        # CEL's && and || are commutative: an error on one side is absorbed when the other side decides.
        decisive = op == "||"
        results, error = [], None
        for side in (left, right):
            try:
                v = self._bool(self._eval(side, this))
            except _CelError as e:
                error = e
                continue
            if v == decisive:
                return decisive
            results.append(v)
        if error:
            raise error
        return not decisive

    @staticmethod
    def _bool(v) -> bool:
        if not isinstance(v, bool):
            raise _CelError("no matching overload: expected bool")
        return v

    @staticmethod
    def _int(v) -> int:
        if not isinstance(v, int) or isinstance(v, bool):
            raise _CelError("no matching overload: expected int")
        return v

    @staticmethod
    def _size(v) -> int:
        if not isinstance(v, (str, list, dict)):
            raise _CelError("size() needs a string, list or map")
        return len(v)

    def _call(self, name: str, args: list):
        target, rest = args[0], args[1:]
        if name == "size" and not rest:
            return self._size(target)
        if name in ("matches", "startsWith", "endsWith", "contains") and len(rest) == 1:
            if not isinstance(target, str) or not isinstance(rest[0], str):
                raise _CelError(f"{name}() needs strings")
            if name == "matches":
                return re.search(rest[0], target) is not None
            return {"startsWith": target.startswith, "endsWith": target.endswith,
                    "contains": target.__contains__}[name](rest[0])
        raise CelUnsupported(self.rule, f"unsupported function {name}()")
