"""Business duration peers on the crmkit sample: cost per pair, ratios, equality.

Mon-Fri 09:00-17:00, no holidays, local wall-clock times (the sample has no
clock change inside any pair, so wall time and elapsed time agree).
"""
import csv
import datetime as dt
import sys
import time

import businesstimedelta
from business_duration import businessDuration

path, crmkit_ns = sys.argv[1], float(sys.argv[2])
rows = []
with open(path) as f:
    for r in csv.DictReader(f):
        rows.append((dt.datetime.fromisoformat(r["start_local"]),
                     dt.datetime.fromisoformat(r["end_local"]),
                     int(r["crmkit_seconds"])))

rule = businesstimedelta.Rules([businesstimedelta.WorkDayRule(
    start_time=dt.time(9), end_time=dt.time(17), working_days=[0, 1, 2, 3, 4])])


def btd(a, b):
    return rule.difference(a, b).timedelta.total_seconds()


def bd(a, b):
    return businessDuration(a, b, starttime=dt.time(9), endtime=dt.time(17),
                            weekendlist=[5, 6], unit="sec")


results = {}
for name, fn in [("businesstimedelta", btd), ("business-duration", bd)]:
    t0 = time.perf_counter()
    out = [fn(a, b) for a, b, _ in rows]
    secs = time.perf_counter() - t0
    bad = [(a, b, c, o) for (a, b, c), o in zip(rows, out) if not abs(o - c) <= 1.0]
    results[name] = (secs / len(rows) * 1e9, len(bad))
    for a, b, c, o in bad[:5]:
        print(f"  {name} differs: {a} -> {b}: crmkit {c} s, {name} {o} s")

print(f"{len(rows)} pairs, Mon-Fri 09:00-17:00, spans up to two weeks")
print(f"| contender | ns per pair | crmkit faster by | pairs differing by > 1 s |")
print(f"|---|---:|---:|---:|")
print(f"| crmkit | {crmkit_ns:.1f} | 1x | - |")
for name, (ns, bad) in results.items():
    print(f"| {name} | {ns:,.0f} | {ns / crmkit_ns:,.0f}x | {bad} |")
