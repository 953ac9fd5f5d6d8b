"""Benchmark W3 (predictive CLV): lifetimes and btyd on crmkit's data.

Reads the transactions that `examples/btyd_peer.rs` wrote to
bench/peers/data/w3_<n>.csv and crmkit's timings and results from
w3_<n>_crmkit.json, runs the same three stages with each peer and prints one
table: median seconds per stage, the peer/crmkit ratio, the fitted
parameters side by side and the prediction checksums.

Stages (only computation is timed; the CSV is loaded before):
  summary  transactions -> per-customer frequency, recency, T, monetary value
           (daily periods, lifetimes' summary_data_from_transaction_data)
  fit      BG/NBD on the (frequency, recency, T) rows collapsed with weights,
           Gamma-Gamma on repeat customers' (frequency, monetary) rows
           collapsed with weights; gradient tolerance 1e-8 (inf-norm, on the
           negative mean log-likelihood in log-parameters), as crmkit.
           The peers get the rows already collapsed (crmkit's fit stage
           includes its own collapsing).
  predict  P(alive) and expected purchases in 30 days per collapsed row;
           12-month CLV at 1%/month (freq "D") for every customer.

Usage: python bench/peers/w3.py N RUNS
"""

import json
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

TOL = 1e-8


CPU = {}


def timed(fn, runs, name=None):
    """Median wall time of `runs` calls; the median process CPU time goes
    to CPU[name] (on a shared machine it moves less with the load)."""
    times, cpu, out = [], [], None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if name:
        CPU[name] = statistics.median(cpu)
    return statistics.median(times), out


def run_peer(module, df, last_day, runs):
    utils = __import__(module + ".utils", fromlist=["summary_data_from_transaction_data"])
    mod = __import__(module, fromlist=["BetaGeoFitter", "GammaGammaFitter"])

    def summary():
        return utils.summary_data_from_transaction_data(
            df, "customer_id", "at", monetary_value_col="amount",
            observation_period_end=last_day, freq="D")

    t_summary, s = timed(summary, runs, (module, "summary"))

    rows = s.groupby(["frequency", "recency", "T"]).size().reset_index(name="w")
    rep = s[s["frequency"] > 0]
    gg_rows = rep.groupby(["frequency", "monetary_value"]).size().reset_index(name="w")

    def fit():
        bgf = mod.BetaGeoFitter(penalizer_coef=0.0)
        bgf.fit(rows["frequency"], rows["recency"], rows["T"], weights=rows["w"], tol=TOL)
        ggf = mod.GammaGammaFitter(penalizer_coef=0.0)
        ggf.fit(gg_rows["frequency"], gg_rows["monetary_value"], weights=gg_rows["w"], tol=TOL)
        return bgf, ggf

    t_fit, (bgf, ggf) = timed(fit, runs, (module, "fit"))

    def predict():
        f, r, T, w = rows["frequency"], rows["recency"], rows["T"], rows["w"].to_numpy()
        alive = np.asarray(bgf.conditional_probability_alive(f, r, T))
        e30 = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(30, f, r, T))
        clv = ggf.customer_lifetime_value(
            bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
            time=12, discount_rate=0.01, freq="D")
        return [float((w * alive).sum()), float((w * e30).sum()), float(np.asarray(clv).sum())]

    t_predict, sums = timed(predict, runs, (module, "predict"))
    params = dict(bgf.params_)
    params.update(dict(ggf.params_))
    return {
        "seconds": {"summary": t_summary, "fit": t_fit, "predict": t_predict},
        "params": {k: float(v) for k, v in params.items()},
        "sums": sums,
        "summary": s,
    }


def check_summary(name, s, crmkit_rows):
    bad = 0
    for cid, x, tx, age, m in crmkit_rows:
        row = s.loc[cid]
        if (int(row["frequency"]), int(row["recency"]), int(row["T"])) != (x, tx, age) or \
                abs(float(row["monetary_value"]) - float(m)) > 1e-6 * max(1.0, float(m)):
            bad += 1
    print(f"summary check {name}: {len(crmkit_rows) - bad}/{len(crmkit_rows)} customers identical to crmkit")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2357
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    peers = sys.argv[3].split(",") if len(sys.argv) > 3 else ["lifetimes", "btyd"]
    df = pd.read_csv(f"bench/peers/data/w3_{n}.csv", parse_dates=["at"])
    ck = json.load(open(f"bench/peers/data/w3_{n}_crmkit.json"))
    end = pd.Timestamp(ck["observation_end"])
    last_day = end - pd.Timedelta(days=1)  # lifetimes' end is inclusive

    results = {}
    for peer in peers:
        results[peer] = run_peer(peer, df, last_day, runs)
        check_summary(peer, results[peer]["summary"], ck["summary_rows"])

    stages = ["summary", "fit", "predict"]
    cs = dict(ck["seconds"])
    cs["pipeline"] = sum(cs[s] for s in stages)
    for r in results.values():
        r["seconds"]["pipeline"] = sum(r["seconds"][s] for s in stages)

    print(f"\nW3 predictive, {n} customers, {ck['transactions']} transactions, "
          f"{ck['distinct_rows']} distinct (x, t_x, T) rows; crmkit median of {ck['runs']}, "
          f"peers median of {runs}")
    head = f"{'stage':<10}{'crmkit s':>12}"
    for p in results:
        head += f"{p + ' s':>14}{p + '/crmkit':>18}"
    print(head)
    for st in stages + ["pipeline"]:
        line = f"{st:<10}{cs[st]:>12.4g}"
        for r in results.values():
            t = r["seconds"][st]
            line += f"{t:>14.4g}{t / cs[st]:>17.1f}x"
        print(line)

    # crmkit's CPU clock (the process's time over all threads from
    # /proc/self/stat, 10 ms ticks, averaged over the runs) is too coarse
    # for the small data set: the table is printed only when it registered.
    if "cpu_seconds" in ck and all(v > 0 for v in ck["cpu_seconds"].values()):
        cc = dict(ck["cpu_seconds"])
        cc["pipeline"] = sum(cc[s] for s in stages)
        print("\nCPU seconds (crmkit: process time, all threads, mean of its runs; peers: process time), same runs")
        head = f"{'stage':<10}{'crmkit s':>12}"
        for p in results:
            head += f"{p + ' s':>14}{p + '/crmkit':>18}"
        print(head)
        for st in stages + ["pipeline"]:
            line = f"{st:<10}{cc[st]:>12.4g}"
            for p in results:
                t = sum(CPU[(p, s)] for s in stages) if st == "pipeline" else CPU[(p, st)]
                line += f"{t:>14.4g}{t / cc[st]:>17.1f}x"
            print(line)

    print("\nfitted parameters (agree = relative difference < 5e-4, i.e. 3 significant digits)")
    ours = dict(ck["bgnbd"])
    ours.update(ck["gamma_gamma"])
    print(f"{'param':<8}{'crmkit':>14}" + "".join(f"{p:>14}{'agree':>7}" for p in results))
    for k in ["r", "alpha", "a", "b", "p", "q", "v"]:
        line = f"{k:<8}{ours[k]:>14.6g}"
        for r in results.values():
            v = r["params"][k]
            line += f"{v:>14.6g}{('yes' if abs(v - ours[k]) <= 5e-4 * abs(ours[k]) else 'NO'):>7}"
        print(line)
    print("\nprediction checksums (sum over customers)")
    names = ["P(alive)", "E[purchases 30d]", "CLV 12 months"]
    ck_sums = [ck["sums"]["p_alive"], ck["sums"]["expected_30"], ck["sums"]["clv_12"]]
    print(f"{'':<18}{'crmkit':>16}" + "".join(f"{p:>16}" for p in results))
    for i, name in enumerate(names):
        print(f"{name:<18}{ck_sums[i]:>16.8g}" + "".join(f"{r['sums'][i]:>16.8g}" for r in results.values()))


if __name__ == "__main__":
    main()
