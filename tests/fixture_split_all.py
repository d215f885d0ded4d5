"""Extends the fixture split (tests/fixture_split/tune.csv, report.csv, drawn over
../shared/fixtures by tests/fixture_split.py and kept as it was, so that constants chosen on its
tuning half stay out of its report half) over ../shared/more-fixtures, and writes both together
with each pair's kind of copy (`category`) to tests/fixture_split/all_tune.csv and
all_report.csv.

In more-fixtures every connected group of images (a derived image, its sources, its style
images) goes whole to one half, so that no image is on both sides and no row is dropped. The
groups are placed to balance the pairs of each kind (full, near, style-only) by repository and
by kind of copy, counting the old fixtures' halves as they are: first largest group first onto
the side that needs it most, then single moves and swaps while they lower the imbalance (no
seed: the result depends only on the rows). The rule was fixed before any figure on the new
sets was seen.

Usage: python3 tests/fixture_split_all.py ../shared/fixtures ../shared/more-fixtures tests/fixture_split
"""
import collections, csv, os, sys

fixtures, more, out = sys.argv[1], sys.argv[2], sys.argv[3]

# Each repository's kind of copy, as the held-back set's table names them.
CATEGORY = {
    "jcjohnson-neural-style": "artistic style transfer",
    "titu1994-Neural-Style-Transfer": "artistic style transfer",
    "gordicaleksa-pytorch-neural-style-transfer": "artistic style transfer",
    "hmmlillian-Neural-Color-Transfer": "photorealistic colour transfer",
    "hahnec-color-matcher": "photorealistic colour transfer",
    "Yijunmaverick-CartoonGAN-Test-Pytorch-Torch": "photo to cartoon",
    "geekyutao-Inpaint-Anything": "inpainting",
    "danielgatis-rembg": "background cut-out",
    "facebookresearch-augly": "augmentations and overlays",
    "idealo-imagededup": "duplicates",
    "pkg-sample-images": "duplicates",
    "xinntao-realesrgan": "super-resolution",
    "debian-wallpapers": "wallpaper variants",
}
KINDS = ("full_copy", "near_copy", "style_only")

def read(path):
    return list(csv.DictReader(open(path, newline="")))

old = {name: read(os.path.join(out, name + ".csv")) for name in ("tune", "report")}
rows = read(os.path.join(more, "pairs.csv"))

parent = {}
def find(x):
    parent.setdefault(x, x)
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x
for r in rows:
    parent[find(r["derived_path"])] = find(r["source_path"])
groups = collections.defaultdict(list)
for i, r in enumerate(rows):
    groups[find(r["source_path"])].append(i)
groups = sorted(groups.values(), key=lambda g: (-len(g), rows[g[0]]["derived_path"]))

def keys(r):
    return [("set", r["set"], r["kind"]), ("category", CATEGORY[r["set"]], r["kind"])]

# Counts per key: tune minus report.
base = collections.Counter()
for name, sign in (("tune", 1), ("report", -1)):
    for r in old[name]:
        if r["kind"] in KINDS:
            for k in keys(r):
                base[k] += sign
group_keys = [collections.Counter(k for i in g for k in keys(rows[i])) for g in groups]

def imbalance(side):
    """Sum over keys of |tune - report| with the groups placed so far (`side`, 0 tune)."""
    diff = collections.Counter(base)
    for s, c in zip(side, group_keys):
        for k, n in c.items():
            diff[k] += n if s == 0 else -n
    return sum(abs(v) for v in diff.values())

side = []
for c in group_keys:
    best = min((0, 1), key=lambda s: (imbalance(side + [s]), s))
    side.append(best)
improved = True
while improved:
    improved = False
    now = imbalance(side)
    for i in range(len(side)):
        trial = side[:]
        trial[i] = 1 - trial[i]
        if imbalance(trial) < now:
            side, now, improved = trial, imbalance(trial), True
    for i in range(len(side)):
        for j in range(i + 1, len(side)):
            if side[i] != side[j]:
                trial = side[:]
                trial[i], trial[j] = trial[j], trial[i]
                if imbalance(trial) < now:
                    side, now, improved = trial, imbalance(trial), True

header = ["set", "category", "derived_path", "source_path", "kind"]
for name, s in (("tune", 0), ("report", 1)):
    with open(os.path.join(out, "all_" + name + ".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in old[name]:
            w.writerow([r["set"], CATEGORY[r["set"]], r["derived_path"], r["source_path"], r["kind"]])
        for g, gs in zip(groups, side):
            if gs == s:
                for i in g:
                    r = rows[i]
                    w.writerow([r["set"], CATEGORY[r["set"]], r["derived_path"], r["source_path"], r["kind"]])
print("imbalance", imbalance(side), file=sys.stderr)
