"""Measures the grayscale, blurred-view, edge-view and structure-signature levers for
repainted copies on the fixture split.

Usage (needs numpy and pillow, and a built `replicant`):

    python examples/repaint_levers.py ../shared/fixtures tests/fixture_split WORK_DIR \
        target/release/replicant

Every decodable fixture image is embedded with full SSCD three times through
`replicant embed`: as it is, in grayscale, blurred (Gaussian, radius 1% of the shorter
side), and as an edge map (grayscale, shorter side 512, Gaussian radius 2, Pillow's
FIND_EDGES, autocontrast); the copies are made with Pillow after EXIF orientation. The training side is every
source of pairs.csv and the unpaired images the tests' fixture layout adds to it. Each
generation's candidates are ranked by a view score (SSCD's cosine, or the mean of the colour
and the other view's cosine), optionally re-ranked by layout as the scan does (the top 10 by
the score, plus 0.3 x the positive layout agreement of 32x32 luma thumbnails). Prints
near-copy recall@1 and recall@5, full copies first, and the rank of every near copy's source
left outside the top five, per half of the split. The layout
re-rank here reproduces the scan's default figures (0.86 / 1.00 tuning, 0.82 / 0.91 report);
its thumbnails are Pillow's box resize, not the scan's filter, so near ties may differ.

The structure signature is a gradient-orientation histogram (HOG-like: 64x64 grayscale, 8
unsigned orientation bins weighted by gradient magnitude, 8x8 cells of 8x8 pixels, centred
and unit length), re-ranking the same pool as layout does with its own weight; that weight is
chosen on the tuning half alone (0.1, 0.2, 0.3, 0.5 or 1.0: most near copies first, then in
the top five, then the smaller weight) and then applied to the report half.

Explaining away the top match (a collage's second source): after the layout re-rank, the
generation's descriptor minus its projection on the rank-1 training image is compared with
every training image; "rank 2" puts the best of those second and keeps the rest in order, and
"pursuit" repeats it for five ranks (greedy matching pursuit, Gram-Schmidt over those chosen).
No constant; between the two the tuning half decides (most near copies first, then in the top
five, ties to "rank 2", the smaller change).

Whitening (SSCD's advice beside centring) is PCA whitening of the training descriptors with
shrinkage 0.01 and 1 x the covariance's largest eigenvalue, both printed (no choice made).

Last, a bound rather than a choice: every training image (no pool) ranked by SSCD + 0.3 x
layout + w x structure for w from 1 to 100, on both halves, to show how far structure would
have to outweigh SSCD to bring the report half's last near copies into the top five.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image, ImageFilter, ImageOps

FIXTURES, SPLIT, WORK, REPLICANT = sys.argv[1:5]
LAYOUT_WEIGHT, POOL = 0.3, 10
# The structure signature's grayscale side: 64 (its own thumbnail) or 32 (the scan's stored
# 32x32 layout thumbnail); REPAINT_STRUCTURE_SIDE picks.
STRUCTURE_SIDE = int(os.environ.get("REPAINT_STRUCTURE_SIDE", "64"))


def embedded(folder):
    out = os.path.join(WORK, "emb-" + os.path.basename(folder))
    if not os.path.exists(os.path.join(out, "part-0-of-1.json")):
        subprocess.run([REPLICANT, "embed", "--training", folder, "--out", out], check=True)
    vectors = np.load(os.path.join(out, "part-0-of-1.npy")).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [json.loads(line)["training"] for line in open(os.path.join(out, "part-0-of-1.jsonl"))]
    return {n.removesuffix(".png") if folder != FIXTURES else n: vectors[i] for i, n in enumerate(names)}


def opened(name):
    image = Image.open(os.path.join(FIXTURES, name))
    image.seek(0)
    return ImageOps.exif_transpose(image).convert("RGB")


colour = embedded(FIXTURES)
for view in ("gray", "blur", "edge"):
    folder = os.path.join(WORK, view)
    if not os.path.isdir(folder):
        for name in colour:
            image = opened(name)
            if view == "gray":
                image = image.convert("L").convert("RGB")
            elif view == "blur":
                image = image.filter(ImageFilter.GaussianBlur(max(1, min(image.size) * 0.01)))
            else:
                gray_image = image.convert("L")
                scale = 512 / min(gray_image.size)
                gray_image = gray_image.resize(
                    (max(1, round(gray_image.width * scale)), max(1, round(gray_image.height * scale))),
                    Image.Resampling.LANCZOS,
                )
                edges = gray_image.filter(ImageFilter.GaussianBlur(2)).filter(ImageFilter.FIND_EDGES)
                image = ImageOps.autocontrast(edges).convert("RGB")
            path = os.path.join(folder, name + ".png")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            image.save(path)
gray = embedded(os.path.join(WORK, "gray"))
blur = embedded(os.path.join(WORK, "blur"))
edge = embedded(os.path.join(WORK, "edge"))


def layout(name):
    pixels = np.asarray(opened(name).resize((32, 32), Image.Resampling.BOX)).astype(np.float32)
    luma = np.round(pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).reshape(-1)
    luma -= luma.mean()
    norm = np.linalg.norm(luma)
    return luma / norm if norm >= 1e-3 * luma.size else np.zeros_like(luma)


def luma32(name):
    pixels = np.asarray(opened(name).resize((32, 32), Image.Resampling.BOX)).astype(np.float32)
    return np.round(pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32))


def structure(name):
    if STRUCTURE_SIDE == 32:
        # From the layout thumbnail the scan already stores: cells of 4x4 pixels.
        gray_pixels = luma32(name)
    else:
        gray_pixels = np.asarray(opened(name).convert("L").resize((64, 64), Image.Resampling.BOX)).astype(np.float32)
    cell_side = STRUCTURE_SIDE // 8
    gy, gx = np.gradient(gray_pixels)
    magnitude = np.hypot(gx, gy)
    orientation = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((orientation / np.pi * 8).astype(int), 7)
    histogram = np.zeros((8, 8, 8), dtype=np.float32)
    for cy in range(8):
        for cx in range(8):
            cell = (slice(cy * cell_side, (cy + 1) * cell_side), slice(cx * cell_side, (cx + 1) * cell_side))
            histogram[cy, cx] = np.bincount(bins[cell].ravel(), weights=magnitude[cell].ravel(), minlength=8)
    signature = histogram.reshape(-1)
    signature -= signature.mean()
    norm = np.linalg.norm(signature)
    return signature / norm if norm > 1e-6 else np.zeros_like(signature)


# The training side of the tests' fixture layout (tests/common/mod.rs): every source of
# pairs.csv, and the other images of the two repositories that hold unpaired training images.
pairs = list(csv.DictReader(open(os.path.join(FIXTURES, "pairs.csv"))))
derived = {r["derived_path"] for r in pairs}
sources = {r["source_path"] for r in pairs}
training = sorted(
    n
    for n in colour
    if n in gray
    and n in blur
    and n in edge
    and (
        n in sources
        or (n not in derived and n.startswith(("debian-wallpapers/", "pkg-sample-images/")))
    )
)
matrix = {k: np.stack([d[t] for t in training]) for k, d in (("c", colour), ("g", gray), ("b", blur), ("e", edge))}
layouts = {}
training_layouts = np.stack([layouts.setdefault(t, layout(t)) for t in training])
structures = {}
training_structures = np.stack([structures.setdefault(t, structure(t)) for t in training])

scores = {
    "SSCD": lambda g: matrix["c"] @ colour[g],
    "colour + grayscale view": lambda g: (matrix["c"] @ colour[g] + matrix["g"] @ gray[g]) / 2,
    "colour + blurred view": lambda g: (matrix["c"] @ colour[g] + matrix["b"] @ blur[g]) / 2,
    "colour + edge view": lambda g: (matrix["c"] @ colour[g] + matrix["e"] @ edge[g]) / 2,
}


def whitened(shrinkage):
    """SSCD's other advice beside centring: PCA whitening on the training descriptors, here
    with shrinkage (89 images cannot estimate 512 dimensions): a multiple of the covariance's
    largest eigenvalue added to every eigenvalue."""
    mean = matrix["c"].mean(axis=0)
    centred = matrix["c"] - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / len(centred))
    transform = vectors @ np.diag(1 / np.sqrt(values + shrinkage * values.max())) @ vectors.T
    side = centred @ transform
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    return lambda g: side @ ((colour[g] - mean) @ transform)


for shrinkage in (0.01, 1.0):
    scores[f"SSCD whitened (shrinkage {shrinkage})"] = whitened(shrinkage)


def ranked(generation, score, layout_weight, structure_weight):
    s = score(generation)
    order = list(np.argsort(-s, kind="stable"))
    if not layout_weight and not structure_weight:
        return order
    pool = np.array(order[:POOL])
    lifted = s[pool].copy()
    if layout_weight:
        lifted += layout_weight * np.maximum(training_layouts[pool] @ layouts.setdefault(generation, layout(generation)), 0)
    if structure_weight:
        lifted += structure_weight * np.maximum(
            training_structures[pool] @ structures.setdefault(generation, structure(generation)), 0
        )
    top = list(pool[np.argsort(-lifted, kind="stable")])
    return top + order[POOL:]


def explained_away(generation, order, steps):
    """`order` with its ranks 2.. re-chosen by what its rank 1 (and those after) leave unexplained."""
    query = colour[generation]
    chosen, basis, residual = [order[0]], [matrix["c"][order[0]]], query.copy()
    for _ in range(steps):
        residual = residual - (residual @ basis[-1]) * basis[-1]
        s = matrix["c"] @ (residual / np.linalg.norm(residual))
        best = next(i for i in np.argsort(-s, kind="stable") if i not in chosen)
        chosen.append(best)
        direction = matrix["c"][best].copy()
        for b in basis:
            direction -= (direction @ b) * b
        basis.append(direction / np.linalg.norm(direction))
    return chosen + [i for i in order if i not in chosen]


def figures(rows, score, layout_weight, structure_weight, pursuit_steps=0):
    counts = {"full_copy": [0, 0, 0], "near_copy": [0, 0, 0], "outside": []}
    for r in rows:
        if r["kind"] not in counts or r["derived_path"] not in colour or r["source_path"] not in training:
            continue
        order = ranked(r["derived_path"], score, layout_weight, structure_weight)
        if pursuit_steps:
            order = explained_away(r["derived_path"], order, pursuit_steps)
        rank = order.index(training.index(r["source_path"])) + 1
        c = counts[r["kind"]]
        c[0] += 1
        c[1] += rank == 1
        c[2] += rank <= 5
        if r["kind"] == "near_copy" and rank > 5:
            counts["outside"].append(f"{os.path.basename(r['derived_path'])} {rank}")
    figures.outside = counts["outside"]
    return counts["full_copy"], counts["near_copy"]


halves = {half: list(csv.DictReader(open(os.path.join(SPLIT, half + ".csv")))) for half in ("tune", "report")}
# The structure weight, with and without layout, chosen on the tuning half only.
chosen = {}
for layout_weight in (0.0, LAYOUT_WEIGHT):
    candidates = []
    for weight in (0.1, 0.2, 0.3, 0.5, 1.0):
        full, near = figures(halves["tune"], scores["SSCD"], layout_weight, weight)
        candidates.append(((near[1], near[2], full[1], -weight), weight))
    chosen[layout_weight] = max(candidates)[1]
    print(f"structure weight chosen on the tuning half (layout {layout_weight}): {chosen[layout_weight]}")
pursuit_candidates = []
for steps, name in ((1, "rank 2"), (4, "pursuit")):
    full, near = figures(halves["tune"], scores["SSCD"], LAYOUT_WEIGHT, 0.0, steps)
    pursuit_candidates.append(((near[1], near[2], full[1], -steps), steps, name))
_, pursuit_steps, pursuit_name = max(pursuit_candidates)
print(f"explaining away chosen on the tuning half: {pursuit_name}")

for half, rows in halves.items():
    print(half)
    for name, score in scores.items():
        settings = [("", 0.0, 0.0), (" + layout re-rank", LAYOUT_WEIGHT, 0.0)]
        if name == "SSCD":
            settings += [
                (f" + structure ({chosen[0.0]})", 0.0, chosen[0.0]),
                (f" + layout + structure ({chosen[LAYOUT_WEIGHT]})", LAYOUT_WEIGHT, chosen[LAYOUT_WEIGHT]),
            ]
        settings = [(suffix, lw, sw, 0) for suffix, lw, sw in settings]
        if name == "SSCD":
            settings.append((f" + layout, top match explained away ({pursuit_name})", LAYOUT_WEIGHT, 0.0, pursuit_steps))
        for suffix, layout_weight, structure_weight, steps in settings:
            full, near = figures(rows, score, layout_weight, structure_weight, steps)
            label = name + suffix
            outside = f"  outside the top five (rank of {len(training)}): {', '.join(figures.outside)}" if figures.outside else ""
            print(f"  {label:52s} full first {full[1]}/{full[0]}  near R@1 {near[1] / near[0]:.2f}  R@5 {near[2] / near[0]:.2f}{outside}")

# Not a choice, a bound: how far a structure signature would have to outweigh SSCD to bring
# the report half's last near copies into the top five. Every training image is ranked (no
# pool) by SSCD + 0.3 x layout + w x structure, for growing w, on both halves.
print("structure over every training image (a bound, not a choice)")
for weight in (1.0, 2.0, 3.0, 5.0, 10.0, 100.0):
    line = []
    for half, rows in halves.items():
        counts = {"full_copy": [0, 0, 0], "near_copy": [0, 0, 0]}
        outside = []
        for r in rows:
            if r["kind"] not in counts or r["derived_path"] not in colour or r["source_path"] not in training:
                continue
            g = r["derived_path"]
            lifted = (
                matrix["c"] @ colour[g]
                + LAYOUT_WEIGHT * np.maximum(training_layouts @ layouts.setdefault(g, layout(g)), 0)
                + weight * np.maximum(training_structures @ structures.setdefault(g, structure(g)), 0)
            )
            source = training.index(r["source_path"])
            rank = int((lifted > lifted[source]).sum()) + 1
            c = counts[r["kind"]]
            c[0] += 1
            c[1] += rank == 1
            c[2] += rank <= 5
            if r["kind"] == "near_copy" and rank > 5:
                outside.append(f"{os.path.basename(g)} {rank}")
        full, near = counts["full_copy"], counts["near_copy"]
        line.append(
            f"{half}: full first {full[1]}/{full[0]}, near R@1 {near[1]}/{near[0]} R@5 {near[2]}/{near[0]}"
            + (f" (outside: {', '.join(outside)})" if outside else "")
        )
    print(f"  w {weight:5.1f}  " + "; ".join(line))
