#!/usr/bin/python3
"""The layering of agent/src, checked on the sources (the build checks it
too: each layer's library only sees the include directories of the layers
below it). Fails on:
  - an #include of a header from a layer the file's layer may not use
    (a higher layer, or a sibling subsystem);
  - an include cycle between modules (foo.c and foo.h are one module, so
    foo.c including bar.h while bar.c includes foo.h is a cycle: the two
    need each other). A module split over several .c files behind one
    header (manager.h: manager.c, manager-bootstrap.c, ...) is fine: the
    parts include the header, the header includes none of them;
  - two headers of the same name in different folders (includes are by
    bare name, so the name must say where it comes from).
Run with --self-test to see it catch a planted violation of each kind."""

import os
import re
import sys
import tempfile

# Each layer and the layers it may include (itself always). Subsystems of
# one rank are siblings: none sees another.
LAYERS = {
    "shared": [],
    "base": ["shared"],
    "aws": ["shared", "base"],
    "render": ["shared", "base"],
    "health": ["shared", "base"],
    "telemetry": ["shared", "base", "aws"],
    "lifecycle": ["shared", "base", "aws"],
    "plugins": ["shared", "base"],
    "daemon": ["shared", "base", "aws", "render", "health", "telemetry", "lifecycle", "plugins"],
}
GENERATED = {"config.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def scan(root):
    files = {}      # relative path -> layer
    headers = {}    # header name -> [layers]
    for layer in sorted(os.listdir(root)):
        d = os.path.join(root, layer)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                files[os.path.join(layer, f)] = layer
                if f.endswith(".h"):
                    headers.setdefault(f, []).append(layer)
    return files, headers


def module_of(layer, path):
    return (layer, os.path.splitext(os.path.basename(path))[0])


def check(root):
    problems = []
    files, headers = scan(root)
    for h, layers in headers.items():
        if len(layers) > 1:
            problems.append("header %s exists in %s: names must be unique" % (h, ", ".join(layers)))
    graph = {}
    for path, layer in files.items():
        if layer not in LAYERS:
            problems.append("%s: folder %s is not a known layer (add it to LAYERS)" % (path, layer))
            continue
        module = module_of(layer, path)
        graph.setdefault(module, set())
        text = open(os.path.join(root, path), errors="replace").read()
        for inc in INCLUDE.findall(text):
            name = os.path.basename(inc)
            if inc != name:
                problems.append("%s: #include \"%s\": include by bare name" % (path, inc))
            if name in GENERATED:
                continue
            where = headers.get(name)
            if not where:
                problems.append("%s: #include \"%s\": no such header in agent/src" % (path, inc))
                continue
            target = where[0]
            if target != layer and target not in LAYERS[layer]:
                problems.append("%s: #include \"%s\": layer %s may not use layer %s" % (path, name, layer, target))
            dep = module_of(target, name)
            if dep != module:
                graph[module].add(dep)
    problems += ["include cycle: " + " -> ".join("%s/%s" % m for m in c) for c in cycles(graph)]
    return problems


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def self_test():
    cases = {
        "upward include": {"base/log.h": '#include "manager.h"\n', "daemon/manager.h": ""},
        "sibling include": {"render/render.c": '#include "check.h"\n', "health/check.h": ""},
        "include cycle": {"aws/a.h": '#include "b.h"\n', "aws/b.c": '#include "a.h"\n', "aws/b.h": ""},
        "cycle through .c files": {"health/check.c": '#include "health.h"\n', "health/check.h": "",
                                   "health/health.c": '#include "check.h"\n', "health/health.h": ""},
        "duplicate header": {"aws/x.h": "", "render/x.h": ""},
    }
    ok = True
    for what, tree in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for p, text in tree.items():
                os.makedirs(os.path.join(d, os.path.dirname(p)), exist_ok=True)
                open(os.path.join(d, p), "w").write(text)
            found = check(d)
            print("self-test %s: %s" % (what, found or "NOT CAUGHT"))
            ok = ok and bool(found)
    return ok


def main():
    if "--self-test" in sys.argv:
        sys.exit(0 if self_test() else 1)
    root = sys.argv[1]
    problems = check(root)
    for p in problems:
        print(p)
    files, _ = scan(root)
    print("%d files in %d layers checked, %d problem(s)" % (len(files), len(set(files.values())), len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
