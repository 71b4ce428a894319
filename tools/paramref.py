#!/usr/bin/python3
"""paramref.py - the parameter reference, made from the typed parameter
tables (lib/global/params_*.c) by every build, so it cannot drift.

Usage: paramref.py OUT.md PARAMS_FILE... [-- DOC.md...]

For each PARAM_TYPE("name", "default", ...) declaration it lists the type,
the default, the limits (int, time, size), the comment written just above
the declaration as its meaning, and the pages of docs/ that mention the
parameter (as `name`). The output is one Markdown section, "## PARAMETERS",
sorted by name.
"""
import os
import re
import sys

DECL = re.compile(r'PARAM_(STR|LIST|TABLE|BOOL|INT|TIME|SIZE)\(\s*"([A-Za-z0-9_]+)",\s*'
                  r'("(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*|[A-Z_]+)')
LIMITS = re.compile(r'\s*,\s*([^,()\n]+(?:\([^()]*\))?),\s*([^,()\n]+(?:\([^()]*\))?)')
TYPES = {"STR": "string", "LIST": "list", "TABLE": "table", "BOOL": "bool",
         "INT": "int", "TIME": "time", "SIZE": "size"}
LIMITED = ("INT", "TIME", "SIZE")
MACROS = {"DEF_CONFIG_DIR": "/etc/mailroom"}     # the build's -DDEF_CONFIG_DIR


def c_string(token):
    """The text of a C string literal (or a macro name, as written)."""
    if token.startswith('"'):
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', token)   # "a" "b" is "ab" in C
        return bytes("".join(parts), "utf-8").decode("unicode_escape")
    return MACROS.get(token, token)


def meaning_above(text, pos):
    """The /* ... */ comment that ends on the line before pos, if any."""
    before = text[:pos].rstrip(" \t")
    before = before[:before.rfind("\n")] if "\n" in before else ""
    stripped = before.rstrip()
    if not stripped.endswith("*/"):
        return ""
    start = stripped.rfind("/*")
    comment = stripped[start + 2:-2]
    lines = [ln.strip().lstrip("*").strip() for ln in comment.splitlines()]
    return " ".join(ln for ln in lines if ln)


def declarations(path):
    text = open(path, encoding="utf-8").read()
    for m in DECL.finditer(text):
        kind, name, default = m.groups()
        limits = ""
        lim = LIMITS.match(text, m.end()) if kind in LIMITED else None
        if lim:
            limits = f"{lim.group(1).strip()} .. {lim.group(2).strip()}"
        yield name, TYPES[kind], c_string(default), limits, meaning_above(text, m.start())


def mentions(docs):
    found = {}
    for doc in docs:
        for name in set(re.findall(r"`([a-z][A-Za-z0-9_]+)", open(doc, encoding="utf-8").read())):
            found.setdefault(name, []).append(os.path.basename(doc))
    return found


def main(argv):
    if "--" in argv:
        i = argv.index("--")
        args, docs = argv[1:i], argv[i + 1:]
    else:
        args, docs = argv[1:], []
    if len(args) < 2:
        sys.exit("usage: paramref.py OUT.md PARAMS_FILE... [-- DOC.md...]")
    out, params = args[0], args[1:]
    rows = sorted(d for p in params for d in declarations(p))
    where = mentions(docs)
    lines = ["## PARAMETERS", "",
             "Every parameter of mailroom.conf, from the declarations the programs use "
             "(type, default, limits) and the comment beside each; `mailroom config -d` "
             "prints the defaults in force.", "",
             "| parameter | type | default | limits | meaning | described in |",
             "|---|---|---|---|---|---|"]
    for name, kind, default, limits, meaning in rows:
        pages = ", ".join(sorted(where.get(name, [])))
        cell = (default or "(empty)").replace("|", "\\|")
        lines.append(f"| `{name}` | {kind} | `{cell}` | {limits} | "
                     f"{meaning.replace('|', '/')} | {pages} |")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv)
