# SPDX-License-Identifier: Apache-2.0
"""Renders a Helm chart that keeps to a small subset of Go templates, the subset deploy/helm/podid uses (Helm
itself cannot be installed here):

    text  {{ .Values.a.b }}  {{ .Release.Namespace }}  {{ . }} (inside range)  "literals" and integers
    {{- if COND }} ... {{- end }}     COND: a value, `eq A B`, `not A`
    {{- range .Values.list }} ... {{- end }}
    {{ X | quote }}   {{ toYaml X | nindent N }}   {{- / -}} whitespace trimming

with Go's rules for trimming, truthiness (false, 0, "", empty list or map are false) and printing (true/false,
integers). Anything else (else, with, define, include, variables, comments, a missing value) raises
TemplateError, so a template that leaves the subset fails the tests instead of rendering differently from Helm.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml


class TemplateError(Exception):
    pass


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_ARG = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+)|(?P<pipe>\|)|(?P<word>[^\s|"]+))')


def _segments(text: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", body) in order, with {{- and -}} trimming applied to the text around."""
    out: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        out.append(("text", chunk))
        body = m.group(2).strip()
        if body.startswith("/*"):
            raise TemplateError("template comments are outside the subset")
        out.append(("action", body))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = text[pos:]
    out.append(("text", tail.lstrip() if trim_next else tail))
    if "{{" in "".join(s for k, s in out if k == "text"):
        raise TemplateError("unbalanced {{ in template")
    return out


def _parse(segments: list[tuple[str, str]]) -> list:
    """A tree: strings, ("print", pipeline), ("if", cond, body), ("range", pipeline, body)."""
    stack: list[tuple[str, Any, list]] = [("root", None, [])]
    for kind, s in segments:
        if kind == "text":
            stack[-1][2].append(s)
            continue
        word = s.split(None, 1)[0] if s else ""
        if word in ("if", "range"):
            rest = s[len(word):].strip()
            if not rest:
                raise TemplateError(f"{{{{ {word} }}}} without an argument")
            stack.append((word, rest, []))
        elif word == "end":
            if len(stack) == 1 or s != "end":
                raise TemplateError("unexpected {{ end }}")
            w, arg, body = stack.pop()
            stack[-1][2].append((w, arg, body))
        elif word in ("else", "with", "define", "template", "include", "block") or s.startswith("$"):
            raise TemplateError(f"'{word}' is outside the subset")
        else:
            stack[-1][2].append(("print", s, None))
    if len(stack) != 1:
        raise TemplateError(f"{{{{ {stack[-1][0]} }}}} without {{{{ end }}}}")
    return stack[0][2]


class Renderer:
    def __init__(self, values: dict, release_namespace: str) -> None:
        self.root = {"Values": values, "Release": {"Namespace": release_namespace}}

    def render(self, text: str) -> str:
        return self._run(_parse(_segments(text)), None)

    def _run(self, nodes: list, dot) -> str:
        out = []
        for n in nodes:
            if isinstance(n, str):
                out.append(n)
            elif n[0] == "print":
                out.append(_printed(self._pipeline(n[1], dot)))
            elif n[0] == "if":
                if _truthy(self._pipeline(n[1], dot)):
                    out.append(self._run(n[2], dot))
            elif n[0] == "range":
                items = self._pipeline(n[1], dot)
                if not isinstance(items, list):
                    raise TemplateError(f"range over {n[1]!r}: not a list")
                out.extend(self._run(n[2], item) for item in items)
        return "".join(out)

    # a pipeline: command ( | command )*; each command's output is the next one's last argument
    def _pipeline(self, text: str, dot):
        commands: list[list[tuple[str, str]]] = [[]]
        pos = 0
        while pos < len(text):
            m = _ARG.match(text, pos)
            if not m or m.end() == pos:
                break
            pos = m.end()
            if m.lastgroup == "pipe":
                commands.append([])
            else:
                commands[-1].append((m.lastgroup, m.group(m.lastgroup)))
        if text[pos:].strip() or any(not c for c in commands):
            raise TemplateError(f"cannot parse {text!r}")
        value, first = None, True
        for cmd in commands:
            args = [self._operand(kind, tok, dot) for kind, tok in cmd[1:]]
            if not first:
                args.append(value)
            kind, head = cmd[0]
            if kind == "word" and head in _FUNCS:
                value = _FUNCS[head](*args)
            elif len(cmd) == 1 and first:
                value = self._operand(kind, head, dot)
            else:
                raise TemplateError(f"'{head}' is not a function of the subset (in {text!r})")
            first = False
        return value

    def _operand(self, kind: str, tok: str, dot):
        if kind == "str":
            return json.loads(tok)
        if kind == "num":
            return int(tok)
        if tok == ".":
            if dot is None:
                raise TemplateError("'.' outside range is outside the subset; use .Values")
            return dot
        if not tok.startswith(".") or tok in _FUNCS:
            raise TemplateError(f"unexpected {tok!r}")
        # Inside range `.` is the element, as in Go templates: `.Values` there fails, as it would in Helm.
        node: Any = self.root if dot is None else dot
        for part in tok.split(".")[1:]:
            if not isinstance(node, dict) or part not in node:
                raise TemplateError(f"{tok}: no value (at {part!r})")
            node = node[part]
        if node is None:
            raise TemplateError(f"{tok} is null")
        return node


def _truthy(v) -> bool:
    return v not in (False, 0, "", None) and not (isinstance(v, (list, dict)) and not v)


def _printed(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    raise TemplateError(f"cannot print {type(v).__name__} {v!r} directly; use toYaml")


def _to_yaml(v) -> str:
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def _nindent(n, s) -> str:
    if not isinstance(n, int):
        raise TemplateError("nindent needs a number first")
    return "\n" + "\n".join(" " * n + line for line in str(s).split("\n"))


def _eq(a, b) -> bool:
    if type(a) is not type(b):
        raise TemplateError(f"eq: incompatible types {a!r} and {b!r}")
    return a == b


def _not(a) -> bool:
    return not _truthy(a)


def _quote(*args) -> str:
    return " ".join(json.dumps(_printed(a)) for a in args)


_FUNCS = {"toYaml": _to_yaml, "nindent": _nindent, "quote": _quote, "eq": _eq, "not": _not}


def deep_merge(base: dict, override: dict) -> dict:
    """Values as `helm --set`/`-f` combine them: maps merge, everything else replaces."""
    out = dict(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def render_chart(chart: Path, release_namespace: str, overrides: dict | None = None) -> list[dict]:
    """The chart's templates rendered with values.yaml (+ overrides), as parsed objects, CRDs excluded."""
    values = deep_merge(yaml.safe_load((chart / "values.yaml").read_text()), overrides or {})
    renderer = Renderer(values, release_namespace)
    objects = []
    for path in sorted((chart / "templates").glob("*.yaml")):
        try:
            text = renderer.render(path.read_text())
        except TemplateError as e:
            raise TemplateError(f"{path.name}: {e}") from e
        objects.extend(d for d in yaml.safe_load_all(text) if d)
    return objects
