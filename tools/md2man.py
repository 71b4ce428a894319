#!/usr/bin/python3
"""md2man.py - make manual pages from a page of docs/ so they cannot drift.

Usage: md2man.py DOC.md OUTDIR [NAME.SECTION ...]

The pages to make are the NAME.SECTION arguments or, without them, the
"name(section)" words of the document's first heading
("# sendmail(1), mailq(1), ..."). The first page gets the text; each other
one is a ".so" link to it, as man-db expects for several names of one page.
Each page is written gzip'd as OUTDIR/NAME.SECTION.gz.

The Markdown understood is what docs/ uses: "#"-headings, paragraphs,
fenced code blocks, "-" and "1." lists, "|" tables, `code`, **bold**,
*emphasis* and [text](link). Anything else passes through as text, with the
characters roff treats specially escaped.
"""
import gzip
import os
import re
import sys
import time

PAGE_NAME = re.compile(r"([A-Za-z0-9_.-]+)\((\d)\)")


def roff_escape(text):
    """Escape backslashes and hyphens; keep a line from starting a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return text


def inline(text):
    """Markdown inline marks to roff font changes."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append("\\fB" + roff_escape(part[1:-1]) + "\\fR")
            continue
        part = roff_escape(part)
        part = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", part)
        out.append(part)
    return "".join(out)


def safe_line(line):
    """A text line that roff must not take for a request."""
    if line.startswith((".", "'")):
        return "\\&" + line
    return line


def table_rows(lines):
    """Cells of a Markdown table, without the |---| separator row."""
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells if c):
            continue
        rows.append(cells)
    return rows


def render_table(lines, out):
    """Each row as a tagged paragraph: first cell as tag, the rest after it."""
    rows = table_rows(lines)
    if not rows:
        return
    header, body = rows[0], rows[1:]
    out.append(".PP")
    out.append(safe_line(inline(" | ".join(header))))
    for cells in body:
        out.append(".TP")
        out.append(safe_line(inline(cells[0])))
        rest = [f"{h}: {c}" if h and i > 0 else c
                for i, (h, c) in enumerate(zip(header[1:], cells[1:]), 1) if c]
        out.append(safe_line(inline("; ".join(rest))) if rest else "\\&")


def name_section(lines, names):
    """A NAME section for a document without one: the page names and the
    first heading's text after its dash (or the whole heading)."""
    if any(re.match(r"^#{1,2}\s+NAME\s*$", ln, re.I) for ln in lines):
        return []
    heading = lines[0].lstrip("#").strip()
    what = re.split(r"\s+(?:\u2014|-)\s+", heading, maxsplit=1)
    what = what[1] if len(what) == 2 else PAGE_NAME.sub("", heading).strip(" ,")
    who = ", ".join(n.rsplit(".", 1)[0] for n in names)
    return ['.SH "NAME"', "%s \\- %s" % (roff_escape(who), roff_escape(what))]


def convert(lines, title, section, source, names):
    """The roff text of one page."""
    date = time.strftime("%Y-%m-%d", time.gmtime(os.path.getmtime(source)))
    out = ['.\\" generated from %s by tools/md2man.py; edit that file' % source,
           '.TH "%s" "%s" "%s" "Mailroom" "Mailroom manual"' % (title.upper(), section, date)]
    out += name_section(lines, names)
    para, table, in_code, in_item, in_indent = [], [], False, False, False

    def flush():
        if para:
            out.append(".PP")
            out.extend(safe_line(inline(p)) for p in para)
            para.clear()
        if table:
            render_table(table, out)
            table.clear()

    for raw in lines[1:]:
        line = raw.rstrip("\n")
        if line.startswith("```"):
            flush()
            out.append(".fi\n.RE" if in_code else ".RS 4\n.nf")
            in_code = not in_code
            continue
        if in_code:
            out.append(safe_line(roff_escape(line)))
            continue
        if line.startswith("|"):
            if para:
                flush()
            table.append(line)
            continue
        if table:
            flush()
        if line.startswith("    ") and not para and not in_item:
            if not in_indent:
                out.append(".RS 4\n.nf")
                in_indent = True
            out.append(safe_line(roff_escape(line[4:])))
            continue
        if in_indent:
            out.append(".fi\n.RE")
            in_indent = False
        heading = re.match(r"^(#{1,6})\s+(.*)", line)
        item = re.match(r"^(\s*)(?:[-*]|\d+\.)\s+(.*)", line)
        if heading:
            flush()
            macro = ".SH" if len(heading.group(1)) <= 2 else ".SS"
            text = heading.group(2)
            out.append('%s "%s"' % (macro, inline(text.upper() if macro == ".SH" else text)))
        elif item:
            flush()
            out.append('.IP "\\(bu" %d' % (2 + len(item.group(1))))
            out.append(safe_line(inline(item.group(2))))
            in_item = True
        elif not line.strip():
            flush()
            in_item = False
        elif in_item:
            out.append(safe_line(inline(line.strip())))
        else:
            if out and out[-1] == '.SH "NAME"' or (len(out) > 1 and out[-2] == '.SH "NAME"'):
                line = line.replace(" \u2014 ", " - ")   # whatis wants "name \- what"
            para.append(line.strip())
    flush()
    if in_code or in_indent:
        out.append(".fi\n.RE")
    return "\n".join(out) + "\n"


def write_gz(path, text):
    """Write text gzip'd with no time stamp inside (reproducible builds)."""
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(text.encode())


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: md2man.py DOC.md OUTDIR [NAME.SECTION ...]")
    source, outdir, names = argv[1], argv[2], argv[3:]
    with open(source, encoding="utf-8") as f:
        lines = f.readlines()
    if not names:
        names = ["%s.%s" % m for m in PAGE_NAME.findall(lines[0])]
    if not names:
        sys.exit("md2man: %s: no name(section) in its first heading" % source)
    os.makedirs(outdir, exist_ok=True)
    first = names[0]
    title, section = first.rsplit(".", 1)
    write_gz(os.path.join(outdir, first + ".gz"), convert(lines, title, section, source, names))
    for other in names[1:]:
        write_gz(os.path.join(outdir, other + ".gz"), ".so man%s/%s\n" % (section, first))


if __name__ == "__main__":
    main(sys.argv)
