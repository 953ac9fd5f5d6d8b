"""Benchmark W2 peers: RFM scores, historical CLV and a monthly purchase
cohort table with polars and duckdb, on the ledger crmkit exported
(bench/peers/data/w2_purchases.csv). Loading is not timed; each task is
timed on in-memory data and materialised (a polars DataFrame, a duckdb
temporary table). Prints one table of medians and ratios to crmkit, whose
timings (same data, same run) come as JSON in argv[2]: crmkit from the slice
of transactions (each task groups the rows itself), then crmkit on a Ledger
(the rows grouped by customer once; its build time is printed and added in
the last line, the strictest comparison).

The RFM tie rule is crmkit's: score = 1 + floor(5 (rank_min - 1) / n)
(recency ranked with more days first). Polars ranks the monetary sum as
Float64 (cent sums are exact in f64 at this size).
"""
import json
import statistics
import sys
import time

import duckdb
import polars as pl

runs = int(sys.argv[1])
crm = json.loads(sys.argv[2])
data = "bench/peers/data"
meta = json.load(open(f"{data}/w2_meta.json"))
as_of = meta["as_of"]

df = pl.read_csv(
    f"{data}/w2_purchases.csv",
    schema_overrides={"customer": pl.Int64, "ts": pl.Int64, "refund": pl.Int8,
                      "amount": pl.Decimal(18, 2), "margin": pl.Decimal(18, 2)},
)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(
    "CREATE TABLE p AS SELECT * FROM read_csv(?, header = true, columns = "
    "{'customer': 'BIGINT', 'ts': 'BIGINT', 'refund': 'TINYINT', "
    "'amount': 'DECIMAL(18,2)', 'margin': 'DECIMAL(18,2)'})",
    [f"{data}/w2_purchases.csv"],
)
assert con.execute("SELECT count(*) FROM p").fetchone()[0] == meta["rows"] == df.height


def pl_rfm():
    sale = pl.col("refund") == 0
    a = (df.filter(pl.col("ts") < as_of)
         .group_by("customer")
         .agg(last=pl.col("ts").filter(sale).max(), f=sale.sum(), m=pl.col("amount").sum())
         .filter(pl.col("f") > 0)
         .with_columns(rec=(as_of - pl.col("last")) // 86400))
    n = a.height
    score = lambda r: 1 + (5 * (r.cast(pl.Int64) - 1)) // n
    return a.with_columns(
        r=score(pl.col("rec").rank("min", descending=True)),
        fs=score(pl.col("f").rank("min")),
        ms=score(pl.col("m").cast(pl.Float64).rank("min")),
    )


def pl_clv():
    sale = pl.col("refund") == 0
    return df.group_by("customer").agg(
        revenue=pl.col("amount").sum(), margin=pl.col("margin").sum(), orders=sale.sum(),
        first=pl.col("ts").min(), last_sale=pl.col("ts").filter(sale).max())


def pl_cohorts():
    sale = pl.col("refund") == 0
    month = pl.from_epoch("ts", time_unit="s").dt.truncate("1mo")
    w = df.filter(pl.col("ts") < as_of)
    firsts = w.filter(sale).group_by("customer").agg(cohort=month.min())
    act = (w.with_columns(month=month).group_by("customer", "month")
           .agg(sales=sale.sum(), rev=pl.col("amount").sum()))
    sizes = firsts.group_by("cohort").agg(size=pl.len())
    return (act.join(firsts, on="customer").filter(pl.col("month") >= pl.col("cohort"))
            .group_by("cohort", "month")
            .agg(customers=(pl.col("sales") > 0).sum(), revenue=pl.col("rev").sum())
            .join(sizes, on="cohort")
            .with_columns(share=pl.col("customers") / pl.col("size")))


DUCK = {
    "rfm": f"""
CREATE OR REPLACE TEMP TABLE rfm AS
WITH a AS (
  SELECT customer, max(ts) FILTER (WHERE refund = 0) AS last,
         count(*) FILTER (WHERE refund = 0) AS f, sum(amount) AS m
  FROM p WHERE ts < {as_of} GROUP BY customer),
s AS (SELECT customer, ({as_of} - last) // 86400 AS rec, f, m, count(*) OVER () AS n FROM a WHERE f > 0)
SELECT customer, rec, f, m,
  1 + (5 * (rank() OVER (ORDER BY rec DESC) - 1)) // n AS r,
  1 + (5 * (rank() OVER (ORDER BY f) - 1)) // n AS fs,
  1 + (5 * (rank() OVER (ORDER BY m) - 1)) // n AS ms
FROM s""",
    "clv": """
CREATE OR REPLACE TEMP TABLE clv AS
SELECT customer, sum(amount) AS revenue, sum(margin) AS margin,
       count(*) FILTER (WHERE refund = 0) AS orders, min(ts) AS first,
       max(ts) FILTER (WHERE refund = 0) AS last_sale
FROM p GROUP BY customer""",
    "cohorts": f"""
CREATE OR REPLACE TEMP TABLE coh AS
WITH w AS (SELECT * FROM p WHERE ts < {as_of}),
firsts AS (SELECT customer, date_trunc('month', min(to_timestamp(ts))) AS cohort
           FROM w WHERE refund = 0 GROUP BY customer),
act AS (SELECT customer, date_trunc('month', to_timestamp(ts)) AS month,
               count(*) FILTER (WHERE refund = 0) AS sales, sum(amount) AS rev
        FROM w GROUP BY ALL),
sizes AS (SELECT cohort, count(*) AS size FROM firsts GROUP BY cohort)
SELECT f.cohort, a.month, count(*) FILTER (WHERE a.sales > 0) AS customers,
       sum(a.rev) AS revenue, any_value(s.size) AS size,
       count(*) FILTER (WHERE a.sales > 0) / any_value(s.size) AS share
FROM act a JOIN firsts f USING (customer) JOIN sizes s USING (cohort)
WHERE a.month >= f.cohort GROUP BY f.cohort, a.month""",
}


def timed(f):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


res = {}
for task, f in [("rfm", pl_rfm), ("clv", pl_clv), ("cohorts", pl_cohorts)]:
    res[task] = (timed(f), timed(lambda: con.execute(DUCK[task])))

# The peers must reproduce crmkit's check values.
c = crm["checks"]
r = pl_rfm()
assert (r.height, r["r"].sum(), r["fs"].sum(), r["ms"].sum()) == (c["scored"], c["sum_r"], c["sum_f"], c["sum_m"]), "polars rfm"
assert con.execute("SELECT count(*), sum(r), sum(fs), sum(ms) FROM rfm").fetchone() == (c["scored"], c["sum_r"], c["sum_f"], c["sum_m"]), "duckdb rfm"
assert str(con.execute("SELECT sum(revenue) FROM clv").fetchone()[0]) == c["total_revenue"], "duckdb clv"
assert str(pl_clv()["revenue"].sum()) == c["total_revenue"], "polars clv"
assert con.execute("SELECT sum(customers) FROM coh").fetchone()[0] == c["cohort_cell_customers"], "duckdb cohorts"
assert pl_cohorts()["customers"].sum() == c["cohort_cell_customers"], "polars cohorts"

print(f"W2 value: {meta['customers']:,} customers, {meta['rows']:,} transactions; medians of {runs} runs (seconds)")
print(f"{'task':<10}{'crmkit':>10}{'polars':>10}{'duckdb':>10}{'polars/crmkit':>15}{'duckdb/crmkit':>15}")
tot = [0.0, 0.0, 0.0]
for task in ("rfm", "clv", "cohorts"):
    k, (p, d) = crm[task], res[task]
    tot = [tot[0] + k, tot[1] + p, tot[2] + d]
    print(f"{task:<10}{k:>10.3f}{p:>10.3f}{d:>10.3f}{p / k:>15.1f}{d / k:>15.1f}")
k, p, d = tot
print(f"{'total':<10}{k:>10.3f}{p:>10.3f}{d:>10.3f}{p / k:>15.1f}{d / k:>15.1f}")
print("check values equal in all three (RFM score sums, total revenue, cohort cell counts)")

# The same tasks on a crmkit Ledger (the transactions grouped by customer
# once, then read by each task), against the same peer timings.
b = crm["ledger_build"]
print(f"\ncrmkit on a Ledger built once from the same rows (build {b:.3f} s); results equal push_batch's")
print(f"{'task':<16}{'crmkit':>10}{'polars':>10}{'duckdb':>10}{'polars/crmkit':>15}{'duckdb/crmkit':>15}")
lt = 0.0
for task in ("rfm", "clv", "cohorts"):
    k, (p, d) = crm["ledger_" + task], res[task]
    lt += k
    print(f"{task:<16}{k:>10.3f}{p:>10.3f}{d:>10.3f}{p / k:>15.1f}{d / k:>15.1f}")
_, p, d = tot
print(f"{'total':<16}{lt:>10.3f}{p:>10.3f}{d:>10.3f}{p / lt:>15.1f}{d / lt:>15.1f}")
print(f"{'build + total':<16}{b + lt:>10.3f}{p:>10.3f}{d:>10.3f}{p / (b + lt):>15.1f}{d / (b + lt):>15.1f}")
