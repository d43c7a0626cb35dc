#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-header-docs.py: every exported function is documented in its header.
#
# The headers: helpers/lib/*.h, helpers/shared/*.h, helpers/rollback/rollback.h, helpers/cli/cli.h.
# A function is a declaration or a static inline definition at file level (not inside a struct, an
# enum or a macro; typedefs and #defines are not functions). The rule:
#   - a function is documented when the line directly above its first line ends a comment ("*/",
#     or is a // line), or when a comment follows it on the line where its declaration ends; or
#   - it directly follows (no blank line between) a documented function: a group of related
#     declarations under one comment counts as documented.
# A blank line, or anything else (a #define, a typedef) between the comment and the function, breaks
# the chain. Prints file:line: function for each one that is not documented; exits 1 when there is one.
import pathlib
import re
import sys

HEADERS = [
    "helpers/lib/*.h",
    "helpers/shared/*.h",
    "helpers/rollback/rollback.h",
    "helpers/cli/cli.h",
]

# a return type (at least one word or '*') then the name and its '('
FUNCTION = re.compile(r"^\s*(?:extern\s+)?(?:_\w+_\s+)*(?:static\s+inline\s+)?[A-Za-z_][\w\s\*]*?[\s\*](\w+)\s*\(")


def strip_comments_and_strings(line, in_comment):
    """the line's code only, and whether a block comment is still open at its end"""
    out = []
    i = 0
    while i < len(line):
        if in_comment:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i = end + 2
            in_comment = False
            continue
        if line.startswith("/*", i):
            in_comment = True
            i += 2
            continue
        if line.startswith("//", i):
            break
        c = line[i]
        if c in "\"'":
            j = i + 1
            while j < len(line) and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out), in_comment


def check(path, shown):
    lines = path.read_text().split("\n")
    problems = []
    depth = 0
    in_comment = False
    in_macro = False
    statement = None  # [first line index, code so far]
    chain_end = None  # the last line of the last function when it was documented
    n = 0

    while n < len(lines):
        raw = lines[n]
        starts_in_comment = in_comment
        code, in_comment = strip_comments_and_strings(raw, in_comment)

        if in_macro or (depth == 0 and not starts_in_comment and code.lstrip().startswith("#")):
            in_macro = raw.rstrip().endswith("\\")
            chain_end = None
            n += 1
            continue

        if depth == 0 and statement is None and code.strip():
            statement = [n, ""]
        ended = None  # ";" or "{" when the statement's head ends on this line
        for c in code:
            if depth == 0 and statement is not None:
                statement[1] += c
            if c == "{":
                depth += 1
                if depth == 1 and statement is not None and ended is None:
                    ended = "{"
            elif c == "}":
                depth -= 1
            elif c == ";" and depth == 0 and statement is not None:
                ended = ";"
                break
        if statement is not None:
            statement[1] += " "

        if ended is None:
            n += 1
            continue

        first, text = statement
        m = FUNCTION.match(text)
        is_function = m is not None and not re.match(r"\s*(typedef|struct|enum|union)\b", text)
        end = n
        if ended == "{":
            # skip the body (of a struct, an enum or an inline function) up to the matching brace
            while depth > 0 and end + 1 < len(lines):
                end += 1
                code, in_comment = strip_comments_and_strings(lines[end], in_comment)
                depth += code.count("{") - code.count("}")
            # a struct or enum declaration ends with its ';' after the brace
            if not is_function:
                while ";" not in strip_comments_and_strings(lines[end], False)[0] and end + 1 < len(lines):
                    end += 1
        statement = None

        if is_function:
            above = lines[first - 1].rstrip() if first > 0 else ""
            trailing = lines[n].rstrip()
            documented = (
                above.endswith("*/")
                or above.lstrip().startswith("//")
                or (ended == ";" and (trailing.endswith("*/") or "//" in trailing) and "/*" in trailing)
            )
            if not documented and chain_end is not None and chain_end == first - 1:
                documented = True
            if not documented:
                problems.append(f"{shown}:{first + 1}: {m.group(1)}")
            chain_end = end if documented else None
        else:
            chain_end = None
        n = end + 1
    return problems


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    problems = []
    for pattern in HEADERS:
        for path in sorted(root.glob(pattern)):
            problems += check(path, path.relative_to(root))
    for p in problems:
        print(f"{p}: not documented (no comment directly above)")
    if problems:
        print(f"{len(problems)} exported function(s) without a comment in their header", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
