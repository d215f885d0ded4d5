"""Checks Replicant's prompt statistics against independent ones.

Reads a JSON file written by tests/prompts.rs: 2x2 tables with Replicant's one-sided Fisher
p-values, and lists of p-values with Replicant's Benjamini-Hochberg q-values. Recomputes the
first with SciPy's fisher_exact (alternative="greater") and the second with the procedure
written out here, and fails on any difference beyond floating-point noise.
"""
import json
import sys

from scipy.stats import fisher_exact


def benjamini_hochberg(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = min(running, 1.0)
    return q


def close(a, b):
    # Relative: p-values of 1e-30 must agree in their digits, not only in being small. To 7
    # significant digits: over a million generations ln(k!) is about 1.3e7, whose last bit is
    # 2e-9, so sums of log-factorials cannot promise more (the report shows 4).
    return abs(a - b) <= 1e-7 * abs(b) + 1e-300


data = json.load(open(sys.argv[1]))
for (a, b, c, d), ours in zip(data["tables"], data["fisher"]):
    _, theirs = fisher_exact([[a, b], [c, d]], alternative="greater")
    assert close(ours, theirs), f"table {[a, b, c, d]}: Replicant {ours}, SciPy {theirs}"
for p, ours in zip(data["p_lists"], data["bh"]):
    theirs = benjamini_hochberg(p)
    assert all(close(x, y) for x, y in zip(ours, theirs)), f"{p}: Replicant {ours}, by hand {theirs}"
print(f"{len(data['tables'])} Fisher tests and {len(data['p_lists'])} Benjamini-Hochberg lists agree")
