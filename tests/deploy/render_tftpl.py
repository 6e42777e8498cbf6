#!/usr/bin/python3
"""Render a Terraform template file the way templatefile() does, for the subset of the
template language that userdata/ uses, so the tests run exactly the script an instance
gets without a terraform binary.

Supported (and what Terraform does with it):
  $${        -> ${            (escape)
  %%{        -> %{            (escape)
  ${ NAME }  -> the value of NAME
  ${ FUNC(NAME) } with FUNC in base64encode, jsonencode
Anything else inside ${ } or any %{ directive is an error here, as is a NAME missing
from the variables (Terraform fails on that too): the renderer never guesses.

Usage: render_tftpl.py TEMPLATE VARS.json > OUT
"""
import base64
import json
import re
import sys

FUNCS = {
    "base64encode": lambda v: base64.b64encode(v.encode()).decode(),
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":")),
}
IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
EXPR = re.compile(rf"^\s*(?:(?P<func>{IDENT})\(\s*(?P<arg>{IDENT})\s*\)|(?P<name>{IDENT}))\s*$")


class TemplateError(Exception):
    pass


def references(text):
    """The variable names a template uses (for the cross-check with Terraform)."""
    names = set()
    for expr in _exprs(text):
        m = EXPR.match(expr)
        if not m:
            raise TemplateError(f"unsupported expression ${{{expr}}}")
        names.add(m.group("arg") or m.group("name"))
    return names


def _exprs(text):
    i = 0
    while i < len(text):
        if text.startswith("$${", i) or text.startswith("%%{", i):
            i += 3
        elif text.startswith("${", i):
            end = text.find("}", i)
            if end < 0:
                raise TemplateError(f"unterminated ${{ at offset {i}")
            yield text[i + 2:end]
            i = end + 1
        elif text.startswith("%{", i):
            raise TemplateError(f"template directive at offset {i} is not supported")
        else:
            i += 1


def render(text, variables):
    out = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            out.append("${")
            i += 3
        elif text.startswith("%%{", i):
            out.append("%{")
            i += 3
        elif text.startswith("${", i):
            end = text.find("}", i)
            if end < 0:
                raise TemplateError(f"unterminated ${{ at offset {i}")
            m = EXPR.match(text[i + 2:end])
            if not m:
                raise TemplateError(f"unsupported expression ${{{text[i + 2:end]}}}")
            name = m.group("arg") or m.group("name")
            if name not in variables:
                raise TemplateError(f"vars map does not contain key \"{name}\"")
            value = variables[name]
            if m.group("func"):
                if m.group("func") not in FUNCS:
                    raise TemplateError(f"function {m.group('func')}() is not supported")
                value = FUNCS[m.group("func")](value)
            elif not isinstance(value, str):
                raise TemplateError(f"{name} is not a string")
            out.append(value)
            i = end + 1
        elif text.startswith("%{", i):
            raise TemplateError(f"template directive at offset {i} is not supported")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        text = f.read()
    with open(sys.argv[2]) as f:
        variables = json.load(f)
    try:
        sys.stdout.write(render(text, variables))
    except TemplateError as e:
        sys.exit(f"{sys.argv[1]}: {e}")


if __name__ == "__main__":
    main()
