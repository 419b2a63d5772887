#!/usr/bin/env python3
"""Mode-matched ratios of go/go1 lines against cnode, as summarize.escript
computes them: per test, rounds within 1.5x of the best round's median are
"fast", the rest "slow"; ratio = median of fast medians / same for cnode.
Also the per-round throughput ratio for conc8_node. Usage: modes.py round*.txt"""
import re, sys, statistics as st

rows = {}  # (impl, test) -> list of (median, p99, per_s) per round
per_round = []
for f in sys.argv[1:]:
    r = {}
    for line in open(f):
        m = re.match(r'^(\S+) (\S+) n=\d+ median_us=([\d.]+) p99_us=([\d.]+) per_s=([\d.]+)', line)
        if m:
            k = (m[1], m[2])
            v = tuple(float(x) for x in m.groups()[2:])
            rows.setdefault(k, []).append(v)
            r[k] = v
    per_round.append(r)

def mid(xs):
    xs = sorted(xs)
    return xs[(len(xs) + 1) // 2 - 1]

def split(ms):
    best = min(m[0] for m in ms)
    fast = [m for m in ms if m[0] <= 1.5 * best]
    slow = [m for m in ms if m[0] > 1.5 * best]
    f = lambda l: mid([m[0] for m in l]) if l else None
    return f(fast), f(slow)

tests = ["setup_epmd", "setup_handshake", "setup_full", "node", "seq", "bin10k", "echo", "conc8_node"]
for impl in ("go", "go1"):
    for t in tests:
        if (impl, t) not in rows or ("cnode", t) not in rows:
            continue
        gf, gs = split(rows[(impl, t)])
        cf, cs = split(rows[("cnode", t)])
        r = lambda a, b: "%.2f" % (a / b) if a and b else "  - "
        tp = [rd[(impl, t)][2] / rd[("cnode", t)][2] for rd in per_round if (impl, t) in rd and ("cnode", t) in rd]
        print("%-4s %-16s fast %6s/%6s x%s  slow %6s/%6s x%s  per-round throughput x%.2f (%.2f..%.2f)" % (
            impl, t, gf and "%.1f" % gf, cf and "%.1f" % cf, r(gf, cf), gs and "%.1f" % gs, cs and "%.1f" % cs, r(gs, cs),
            st.median(tp), min(tp), max(tp)))
