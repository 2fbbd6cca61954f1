"""Compare two builds row by row: every table, every column but the times of day.

    python scripts/compare_builds.py OUT_A OUT_B

Prints, per table, the row counts and how many rows of each build the other lacks
(DuckDB EXCEPT ALL over committed shards, time columns and the demo server's
loopback port left out); exits 1 on any
difference. Used to show that a refactor leaves a dataset's ids and values unchanged.
"""

from __future__ import annotations

import sys

import duckdb

from longvid_pipeline.query import connect
from longvid_pipeline.tables import TABLE_NAMES

VOLATILE = {"fetched_at", "rejected_at"}  # wall-clock times differ between any two runs
# The demo world is served on an ephemeral loopback port: URLs differ only in it.
PORT_FREE = r"regexp_replace({0}, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g') AS {0}"


def compare(out_a: str, out_b: str) -> bool:
    same = True
    con_a, con_b = connect(out_a), connect(out_b)
    for table in TABLE_NAMES:
        try:
            a = con_a.sql(f"SELECT * FROM {table}").to_arrow_table()
            b = con_b.sql(f"SELECT * FROM {table}").to_arrow_table()
        except Exception:  # a table neither build has
            continue
        columns = [c for c in a.column_names if c not in VOLATILE]
        text = {field.name for field in a.schema if str(field.type) == "string"}
        select = ", ".join(PORT_FREE.format(c) if c in text else c for c in columns)
        con = duckdb.connect()
        con.register("raw_a", a)
        con.register("raw_b", b)
        con.execute(f"CREATE VIEW a AS SELECT {select} FROM raw_a")
        con.execute(f"CREATE VIEW b AS SELECT {select} FROM raw_b")
        only_a = con.sql(
            "SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)"
        ).fetchall()[0][0]
        only_b = con.sql(
            "SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)"
        ).fetchall()[0][0]
        print(
            f"{table}: {a.num_rows} vs {b.num_rows} rows; only in first {only_a}, only in second {only_b}"
        )
        same = same and only_a == 0 and only_b == 0 and a.num_rows == b.num_rows
    print("identical" if same else "DIFFERENT")
    return same


if __name__ == "__main__":
    sys.exit(0 if compare(sys.argv[1], sys.argv[2]) else 1)
