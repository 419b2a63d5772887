#!/usr/bin/env python3
"""check.py LOG CONFIRMED [MAY]: verify a receiver log against what was enqueued.

LOG: "dest id [node]" lines as the receiver wrote them (in delivery order).
CONFIRMED: "dest id" lines the clients saw committed: each must be delivered.
MAY: optional "max extra" count of ids delivered but not confirmed (in-doubt
commits cut by a crash). Per destination, the first deliveries of the ids must
be in increasing id order (the outbox's commit order); any further delivery of
an id is a repeat (at-least-once) and must come after its first.
Prints a summary line; exits 1 on any violation.
"""
import sys
from collections import defaultdict

log, confirmed = sys.argv[1], sys.argv[2]
may_extra = int(sys.argv[3]) if len(sys.argv) > 3 else 0
want = defaultdict(set)
for line in open(confirmed):
    if line.strip():
        d, i = line.split()
        want[d].add(int(i))
seen = defaultdict(list)
for line in open(log):
    if line.strip():
        d, i = line.split()[:2]
        seen[d].append(int(i))
bad = []
dups = extra = delivered = 0
for d in sorted(set(want) | set(seen)):
    first, last = set(), 0
    for i in seen[d]:
        if i in first:
            dups += 1
            continue
        if i < last:
            bad.append(f"{d}: id {i} delivered after {last} (order)")
        first.add(i)
        last = i
    delivered += len(first)
    missing = want[d] - first
    if missing:
        bad.append(f"{d}: {len(missing)} confirmed ids never delivered, e.g. {sorted(missing)[:5]}")
    extra += len(first - want[d])
if extra > may_extra:
    bad.append(f"{extra} delivered ids were never confirmed (at most {may_extra} in doubt)")
total = sum(len(v) for v in want.values())
print(f"confirmed {total}, delivered {delivered} distinct, {dups} repeats, {extra} in doubt")
for b in bad[:10]:
    print("  " + b)
sys.exit(1 if bad else 0)
