"""Destructive SQL (and MongoDB shell) statements, read with comments and string literals removed,
so ``SELECT 'drop table'`` is data and ``DROP /* x */ TABLE users`` is not."""

import re

DOLLAR_TAG = re.compile(r"\$\w{0,16}\$")
STATEMENTS = [
    (re.compile(r"(?i)\bDROP\s+(DATABASE|SCHEMA|TABLE|TABLESPACE|OWNED|USER|ROLE|MATERIALIZED\s+VIEW|VIEW|INDEX|"
                r"KEYSPACE|COLLECTION)\b"), "drops a {0}"),
    (re.compile(r"(?i)\bTRUNCATE\b"), "truncates a table"),
    (re.compile(r"(?i)\bALTER\s+TABLE\b[^;]*\bDROP\b"), "drops part of a table"),
    (re.compile(r"(?i)\.\s*(dropDatabase|drop)\s*\("), "drops a MongoDB database or collection"),
    (re.compile(r"(?i)\.\s*(deleteMany|remove)\s*\(\s*\{\s*\}\s*\)"), "deletes every document of a collection (no filter)"),
]
DELETE = re.compile(r"(?i)^\s*DELETE\s+FROM\b")
UPDATE = re.compile(r"(?i)^\s*UPDATE\s+\S+\s+SET\b")
WHERE = re.compile(r"(?i)\bWHERE\b(?!\s+(1\s*=\s*1|true|1)\s*$)")


def strip(text):
    """SQL without its string literals ('...', $tag$...$tag$) and comments (--, #, /* */), in one pass."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            j = i + 1
            while j < n and not (text[j] == "'" and not text.startswith("''", j)):
                j += 2 if text.startswith("''", j) else 1
            out.append(" ")
            i = j + 1
        elif c == "$" and DOLLAR_TAG.match(text, i):
            tag = DOLLAR_TAG.match(text, i).group(0)
            j = text.find(tag, i + len(tag))
            out.append(" ")
            i = n if j < 0 else j + len(tag)
        elif text.startswith("--", i) or c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            out.append(" ")
            i = n if j < 0 else j + 2
        else:
            j = i
            while j < n and text[j] not in "'$-#/":
                j += 1
            out.append(text[i:max(j, i + 1)])
            i = max(j, i + 1)
    return "".join(out)


def destructive(text):
    """What destructive statements ``text`` holds, as short reasons ("drops a TABLE")."""
    clean = strip(text[:64 * 1024])
    reasons = []
    for regex, what in STATEMENTS:
        m = regex.search(clean)
        if m:
            reasons.append(what.format(m.group(1).upper().replace(" ", "") if m.groups() and m.group(1) else ""))
    for stmt in clean.split(";"):
        stmt = stmt.strip()
        if DELETE.match(stmt) and not WHERE.search(stmt):
            reasons.append("deletes every row of a table (DELETE with no WHERE)")
        elif UPDATE.match(stmt) and not WHERE.search(stmt):
            reasons.append("changes every row of a table (UPDATE with no WHERE)")
    return reasons
