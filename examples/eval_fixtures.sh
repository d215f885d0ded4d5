#!/bin/bash
# Scans both fixture folders together and scores the scan on each half of the split
# (tests/fixture_split/all_tune.csv, all_report.csv) with `replicant eval`, by repository and
# by kind of copy.
#
#   examples/eval_fixtures.sh BINARY WORK_DIR [SCAN FLAGS...]
#
# Layout: generations = every derived image of ../shared/fixtures and ../shared/more-fixtures,
# plus the imagededup odd files and AugLy's look-alikes; training = every source and style
# image of both, plus the wallpapers, the sample images and more-fixtures' unpaired images.
# The project folder is kept in WORK_DIR/project-<tag> (tag: the flags joined), so a second
# run with the same flags is warm; delete it for a cold scan. PROJECT=DIR shares one project
# between runs whose flags only change the ranking (sweeps: embeddings come from its cache). Prints the scan's time and both
# halves' tables (HALVES=tune: the tuning half's only, for sweeps that must not see the
# report half); the JSON of each is kept beside them.
set -euo pipefail
bin=$(realpath "$1")
work=$2
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$(cd "$here/../shared/fixtures" && pwd)
more=$(cd "$here/../shared/more-fixtures" && pwd)
mkdir -p "$work"
work=$(realpath "$work")
python3 - "$fixtures" "$more" "$work/data" <<'PY'
import csv, os, sys
fx, more, root = sys.argv[1], sys.argv[2], sys.argv[3]
gen, tr = os.path.join(root, "generations"), os.path.join(root, "training")
exts = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".pbm", ".pgm", ".ppm", ".svg")
def link(base, rel, to):
    dst = os.path.join(to, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.lexists(dst):
        os.symlink(os.path.join(base, rel), dst)
for base in (fx, more):
    rows = list(csv.DictReader(open(os.path.join(base, "pairs.csv"))))
    derived = {r["derived_path"] for r in rows}
    sources = {r["source_path"] for r in rows}
    for r in derived:
        link(base, r, gen)
    for r in sources - derived:
        link(base, r, tr)
    for d, _, files in os.walk(base):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), base)
            if rel in derived or rel in sources or not rel.lower().endswith(exts):
                continue
            if rel.startswith("idealo-imagededup/") or rel.endswith(("dfdc_2.jpg", "dfdc_3.jpg")):
                link(base, rel, gen)
            elif base == more or rel.startswith(("debian-wallpapers/", "pkg-sample-images/")):
                link(base, rel, tr)
PY
tag=$(echo "default $*" | tr -c 'a-zA-Z0-9.\n-' '_' | sed 's/_*$//')
start=$(date +%s.%N)
"$bin" scan --generations "$work/data/generations" --training "$work/data/training" \
  --project "${PROJECT:-$work/project-$tag}" --out "$work/$tag.jsonl" --force --no-setup "$@" \
  2>"$work/$tag.log"
end=$(date +%s.%N)
echo "scan ($*): $(echo "$end - $start" | bc) s, $(wc -l <"$work/$tag.jsonl") generations"
for half in ${HALVES:-tune report}; do
  echo "== $half half"
  "$bin" eval --truth "$here/tests/fixture_split/all_$half.csv" --results "$work/$tag.jsonl"
  "$bin" eval --json --truth "$here/tests/fixture_split/all_$half.csv" \
    --results "$work/$tag.jsonl" >"$work/$tag-$half.json"
done
