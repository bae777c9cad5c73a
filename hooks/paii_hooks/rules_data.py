"""Rules for databases: destructive SQL (and MongoDB) sent to a client by argument, file, stdin or
heredoc, SQL decoded or downloaded just before it is sent, and the tools that drop databases."""

from paii_hooks.argv import operands_after
from paii_hooks.paths import read_text

SQL_FLAGS = {"psql": ("-c", "--command"), "usql": ("-c", "--command"), "mysql": ("-e", "--execute"),
             "mariadb": ("-e", "--execute"), "clickhouse-client": ("-q", "--query"), "clickhouse": ("-q", "--query"),
             "cockroach": ("-e", "--execute"), "sqlcmd": ("-Q", "-q"), "snowsql": ("-q", "--query"),
             "mongosh": ("--eval",), "mongo": ("--eval",), "cqlsh": ("-e", "--execute"), "bq": ()}
FILE_FLAGS = ("-f", "--file", "-i", "--input-file")


def database(inv, cmd, ctx, depth):
    from paii_hooks import sql  # (compiled only when a database client runs)

    argv = inv.argv()
    texts = []
    for k, a in enumerate(argv):
        if a is None:
            continue
        for flag in SQL_FLAGS.get(inv.prog, ()):
            if a == flag and k + 1 < len(argv) and argv[k + 1] is not None:
                texts.append(argv[k + 1])
            elif a.startswith(flag + "=") and flag.startswith("--"):
                texts.append(a.split("=", 1)[1])
        if a in FILE_FLAGS and k + 1 < len(argv) and argv[k + 1] and inv.prog not in ("mongosh", "mongo"):
            texts.append(read_text(argv[k + 1], ctx) or "")
    ops = operands_after(argv, 0, ("-h", "--host", "-p", "--port", "-U", "-u", "--user", "--username", "-d",
                                   "--dbname", "-D", "--database", "-P", "-S", "--socket", "-W"))
    if inv.prog in ("sqlite3", "duckdb") and len(ops) >= 2:
        texts.extend(o for o in ops[1:] if o)
    if inv.prog == "bq" and ops[:1] == ["query"]:
        texts.extend(o for o in ops[1:] if o)
    src = ctx.stdin_of(cmd)
    if src and src[0] == "text":
        texts.append(src[1])
    elif src and src[0] in ("decoded", "network"):  # base64 -d | psql: SQL the guard cannot read
        ctx.run_source(src, inv.prog, depth)
    for text in texts:
        for reason in sql.destructive(text):
            ctx.add("sql-destructive", "`%s` runs SQL that %s" % (inv.prog, reason))


def db_tools(inv, cmd, ctx, depth):
    argv = [a for a in inv.argv() if a is not None]
    line = inv.line()
    if inv.prog == "dropdb" and not any(a in ("--help", "-V", "--version") for a in argv):
        ctx.add("db-drop", "`%s` deletes a PostgreSQL database" % line)
    elif inv.prog == "mysqladmin" and "drop" in [a.lower() for a in argv]:
        ctx.add("db-drop", "`%s` deletes a MySQL database" % line)
    elif inv.prog == "redis-cli":
        src = ctx.stdin_of(cmd)
        typed = src[1].lower().split() if src and src[0] == "text" else []
        if any(a.lower() in ("flushall", "flushdb") for a in argv + typed):
            ctx.add("db-drop", "`%s` deletes every key" % line)
        elif src and src[0] in ("decoded", "network"):
            ctx.run_source(src, inv.prog, depth)


CHECKS = {" ".join(SQL_FLAGS) + " sqlite3 duckdb": database, "dropdb mysqladmin redis-cli": db_tools}
