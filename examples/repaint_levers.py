"""Measures the grayscale and blurred-view levers for repainted copies on the fixture split.

Usage (needs numpy and pillow, and a built `replicant`):

    python examples/repaint_levers.py ../shared/fixtures tests/fixture_split WORK_DIR \
        target/release/replicant

Every decodable fixture image is embedded with full SSCD three times through
`replicant embed`: as it is, in grayscale, and blurred (Gaussian, radius 1% of the shorter
side); the copies are made with Pillow after EXIF orientation. The training side is every
source of pairs.csv and the unpaired images the tests' fixture layout adds to it. Each
generation's candidates are ranked by a view score (SSCD's cosine, or the mean of the colour
and the other view's cosine), optionally re-ranked by layout as the scan does (the top 10 by
the score, plus 0.3 x the positive layout agreement of 32x32 luma thumbnails). Prints
near-copy recall@1 and recall@5 and full copies first, per half of the split. The layout
re-rank here reproduces the scan's default figures (0.86 / 1.00 tuning, 0.82 / 0.91 report);
its thumbnails are Pillow's box resize, not the scan's filter, so near ties may differ.
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
for view in ("gray", "blur"):
    folder = os.path.join(WORK, view)
    if not os.path.isdir(folder):
        for name in colour:
            image = opened(name)
            if view == "gray":
                image = image.convert("L").convert("RGB")
            else:
                image = image.filter(ImageFilter.GaussianBlur(max(1, min(image.size) * 0.01)))
            path = os.path.join(folder, name + ".png")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            image.save(path)
gray = embedded(os.path.join(WORK, "gray"))
blur = embedded(os.path.join(WORK, "blur"))


def layout(name):
    pixels = np.asarray(opened(name).resize((32, 32), Image.Resampling.BOX)).astype(np.float32)
    luma = np.round(pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).reshape(-1)
    luma -= luma.mean()
    norm = np.linalg.norm(luma)
    return luma / norm if norm >= 1e-3 * luma.size else np.zeros_like(luma)


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
    and (
        n in sources
        or (n not in derived and n.startswith(("debian-wallpapers/", "pkg-sample-images/")))
    )
)
matrix = {k: np.stack([d[t] for t in training]) for k, d in (("c", colour), ("g", gray), ("b", blur))}
layouts = {}
training_layouts = np.stack([layouts.setdefault(t, layout(t)) for t in training])

scores = {
    "SSCD": lambda g: matrix["c"] @ colour[g],
    "colour + grayscale view": lambda g: (matrix["c"] @ colour[g] + matrix["g"] @ gray[g]) / 2,
    "colour + blurred view": lambda g: (matrix["c"] @ colour[g] + matrix["b"] @ blur[g]) / 2,
}


def ranked(generation, score, rerank):
    s = score(generation)
    order = list(np.argsort(-s, kind="stable"))
    if not rerank:
        return order
    pool = np.array(order[:POOL])
    agreement = np.maximum(training_layouts[pool] @ layouts.setdefault(generation, layout(generation)), 0)
    top = list(pool[np.argsort(-(s[pool] + LAYOUT_WEIGHT * agreement), kind="stable")])
    return top + order[POOL:]


for half in ("tune", "report"):
    rows = list(csv.DictReader(open(os.path.join(SPLIT, half + ".csv"))))
    print(half)
    for name, score in scores.items():
        for rerank in (False, True):
            counts = {"full_copy": [0, 0, 0], "near_copy": [0, 0, 0]}
            for r in rows:
                if r["kind"] not in counts or r["derived_path"] not in colour or r["source_path"] not in training:
                    continue
                rank = ranked(r["derived_path"], score, rerank).index(training.index(r["source_path"])) + 1
                c = counts[r["kind"]]
                c[0] += 1
                c[1] += rank == 1
                c[2] += rank <= 5
            full, near = counts["full_copy"], counts["near_copy"]
            label = name + (" + layout re-rank" if rerank else "")
            print(f"  {label:42s} full first {full[1]}/{full[0]}  near R@1 {near[1] / near[0]:.2f}  R@5 {near[2] / near[0]:.2f}")
