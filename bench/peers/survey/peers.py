"""Times polars and duckdb on W1 (NPS and CSAT per segment x month) and
prints one table with crmkit's and the floor's medians from crmkit.jsonl.

Usage: peers.py DATA_DIR RUNS
"""
import json
import os
import statistics
import sys
import time

import duckdb
import numpy as np
import polars as pl


def median_ms(runs, f):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    data, runs = sys.argv[1], int(sys.argv[2])
    scores = np.fromfile(os.path.join(data, "scores.u8"), dtype=np.uint8)
    segments = np.fromfile(os.path.join(data, "segments.u32"), dtype="<u4")
    months = np.fromfile(os.path.join(data, "months.u32"), dtype="<u4")
    df = pl.DataFrame({"score": scores, "segment": segments, "month": months})

    def polars_w1():
        s = pl.col("score")
        return (
            df.lazy()
            .group_by("segment", "month")
            .agg(
                n=pl.len(),
                promoters=(s >= 9).sum(),
                detractors=(s <= 6).sum(),
                satisfied=(s >= 8).sum(),
                mean=s.mean(),
            )
            .with_columns(
                nps=100.0 * (pl.col("promoters") - pl.col("detractors")) / pl.col("n"),
                csat=100.0 * pl.col("satisfied") / pl.col("n"),
            )
            .collect()
        )

    con = duckdb.connect()
    con.register("src", df.to_arrow())
    con.execute("CREATE TABLE responses AS SELECT * FROM src")
    con.unregister("src")
    sql = """
        SELECT segment, month, count(*) AS n,
               100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6)) / count(*) AS nps,
               100.0 * count(*) FILTER (WHERE score >= 8) / count(*) AS csat,
               avg(score) AS mean
        FROM responses GROUP BY segment, month
    """

    def duckdb_w1():
        return con.execute(sql).fetchall()

    # Check that every contender computed the same groups.
    p = polars_w1().sort("segment", "month")
    first = p.row(0, named=True)
    d = sorted(duckdb_w1())
    assert len(p) == len(d) == 50 * 24, (len(p), len(d))
    assert d[0][2] == first["n"], (d[0], first)

    polars_w1()
    duckdb_w1()
    results = {}
    for line in open(os.path.join(data, "crmkit.jsonl")):
        row = json.loads(line)
        if "contender" in row:
            results[row["contender"]] = row["median_ms"]
        else:
            crm_check = row
    assert crm_check["n"] == first["n"], (crm_check, first)
    results["polars " + pl.__version__] = median_ms(runs, polars_w1)
    results["duckdb " + duckdb.__version__] = median_ms(runs, duckdb_w1)

    base = results["crmkit"]
    print(f"W1 survey: NPS + CSAT + mean per segment x month, {len(scores):,} responses, "
          f"{os.cpu_count()} cores, median of {runs} runs")
    print(f"segment 0 month 0: n = {first['n']}, NPS = {first['nps']:.2f} (crmkit {crm_check['nps']})")
    print()
    print("| contender | median ms | ratio to crmkit |")
    print("|---|---:|---:|")
    for name, ms in results.items():
        print(f"| {name} | {ms:.1f} | {ms / base:.2f} |")


if __name__ == "__main__":
    main()
