"""Destructive SQL (and MongoDB shell) statements, read with comments and string literals removed,
so ``SELECT 'drop table'`` is data and ``DROP /* x */ TABLE users`` is not."""

import re

STRINGS = re.compile(r"'(?:[^']|'')*'|\$(\w*)\$.*?\$\1\$|--[^\n]*|#[^\n]*|/\*.*?\*/", re.S)
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


def destructive(text):
    """What destructive statements ``text`` holds, as short reasons ("drops a TABLE")."""
    clean = STRINGS.sub(" ", text[:512 * 1024])
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
