"""Splits ../shared/fixtures/pairs.csv into two halves with no image (source or derived) in
both: each connected group of pairs outside the neural-style set goes whole to one half; in the
neural-style set each source image is given a half and each output joins the half that keeps
most of its rows (rows whose images fall in different halves are dropped and listed). Among all
assignments, the one keeping the most rows less the imbalance of the kinds between the halves, is taken
(exhaustive search, so the result does not depend on a seed)."""
import csv, collections, itertools, sys
import numpy as np

# Usage: python3 tests/fixture_split.py ../shared/fixtures tests/fixture_split (needs numpy)
fixtures = sys.argv[1]
rows = list(csv.DictReader(open(f"{fixtures}/pairs.csv")))
KINDS = ["full_copy", "near_copy", "style_only"]  # of pairs.csv; the look-alike negatives are added at the end
NEURAL = "jcjohnson-neural-style"

# Connected groups of the non-neural rows.
parent = {}
def find(x):
    parent.setdefault(x, x)
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x
for r in rows:
    if r["set"] != NEURAL:
        parent[find("d:" + r["derived_path"])] = find("s:" + r["source_path"])
groups = collections.defaultdict(list)
for i, r in enumerate(rows):
    if r["set"] != NEURAL:
        groups[find("s:" + r["source_path"])].append(i)
groups = sorted(groups.values(), key=lambda g: (-len(g), rows[g[0]]["derived_path"]))
for g in groups:  # no neural image in a non-neural group
    for i in g:
        assert all(rows[i][k] not in {r[k2] for r in rows if r["set"] == NEURAL for k2 in ("derived_path", "source_path")} for k in ("derived_path", "source_path"))

neural = [i for i, r in enumerate(rows) if r["set"] == NEURAL]
# Images that are both a source and an output (starry_night_google.jpg, starry_night_crop.png)
# are units of their own like sources; an output's rows follow the sources.
sources = sorted({rows[i]["source_path"] for i in neural})
derived = sorted({rows[i]["derived_path"] for i in neural} - set(sources))
by_derived = collections.defaultdict(list)
for i in neural:
    by_derived[rows[i]["derived_path"]].append(i)

def neural_assignment(bits):
    side = {s: (bits >> k) & 1 for k, s in enumerate(sources)}
    half = {}
    for i in neural:
        d = rows[i]["derived_path"]
        if d in side:  # an output that is also a source has its own side
            half[i] = side[d] if side[d] == side[rows[i]["source_path"]] else None
    for d in derived:
        idx = by_derived[d]
        kept = [sum(side[rows[i]["source_path"]] == h for i in idx) for h in (0, 1)]
        h = 0 if kept[0] >= kept[1] else 1
        for i in idx:
            half[i] = h if side[rows[i]["source_path"]] == h else None
    return half

def counts(half):
    c = np.zeros((2, 3), int)
    for i, h in half.items():
        if h is not None:
            c[h, KINDS.index(rows[i]["kind"])] += 1
    return c

group_counts = []
for g in groups:
    c = np.zeros(3, int)
    for i in g:
        c[KINDS.index(rows[i]["kind"])] += 1
    group_counts.append(c)
G = len(groups)
combos = np.array(list(itertools.product([0, 1], repeat=G)))  # [2^G, G]
gc = np.array(group_counts)  # [G, 3]
in_b = combos @ gc  # counts in half 1
in_a = gc.sum(0) - in_b

best = None
for bits in range(1 << len(sources)):
    half = neural_assignment(bits)
    c = counts(half)
    a = in_a + c[0]
    b = in_b + c[1]
    kept = (a + b).sum(1)
    imbalance = np.abs(a - b).sum(1)
    score = kept - imbalance
    j = int(np.argmax(score))
    key = (score[j], -bits)
    if best is None or key > best[0]:
        best = (key, bits, combos[j].copy(), a[j], b[j])
(_, bits, gbits, a, b) = best
half = neural_assignment(bits)
for g, h in zip(groups, gbits):
    for i in g:
        half[i] = int(h)
# Name the halves: the one holding AugLy tunes, the other reports.
augly = next(i for i in half if rows[i]["set"] == "facebookresearch-augly")
tune_side = half[augly]
import os
os.makedirs(sys.argv[2], exist_ok=True)
files = {name: open(os.path.join(sys.argv[2], name + ".csv"), "w", newline="") for name in ("tune", "report", "dropped")}
writers = {name: csv.writer(f) for name, f in files.items()}
for w in writers.values():
    w.writerow(["set", "derived_path", "source_path", "kind", "difficulty"])
for i, r in enumerate(rows):
    h = half[i]
    name = "dropped" if h is None else ("tune" if h == tune_side else "report")
    writers[name].writerow([r["set"], r["derived_path"], r["source_path"], r["kind"], r["difficulty"]])
# Look-alike negatives: AugLy's other faces from the same video set, generations with no source
# in the training set, one to each half (fixed by name order, before any figure was seen).
for name, (path) in (("tune", "dfdc_2.jpg"), ("report", "dfdc_3.jpg")):
    writers[name].writerow(["facebookresearch-augly", "facebookresearch-augly/augly/tests/assets/image/inputs/" + path, "", "negative", ""])
for f in files.values():
    f.close()
print("tune", (a if tune_side == 0 else b), "report", (b if tune_side == 0 else a), file=sys.stderr)
