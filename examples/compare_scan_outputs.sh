#!/bin/bash
# A release check for changes meant to leave behaviour alone (issue 20): two builds of
# replicant scan the fixtures (the layout of tests/common::fixture_layout: every pair's derived
# image a generation, every source a training image, plus the imagededup set and the
# wallpapers and sample images) with default settings, the cascade on, the replication paper's
# preset, centred ranking and region windows on (coarse and fine), and their JSON Lines must be
# byte-identical.
#
#   examples/compare_scan_outputs.sh OLD_BINARY NEW_BINARY [FIXTURES] [WORK_DIR]
#
# FIXTURES defaults to ../shared/fixtures. Both binaries need the model and runtime installed
# (`replicant setup`); the scans run with --no-setup. Exits 1 when any output differs.
set -euo pipefail
old=$1
new=$2
fixtures=$(cd "${3:-$(dirname "$0")/../../shared/fixtures}" && pwd)
work=${4:-$(mktemp -d)}
mkdir -p "$work"
python3 - "$fixtures" "$work/data" <<'PY'
import csv, os, sys
fx, root = sys.argv[1], sys.argv[2]
gen, tr = os.path.join(root, "generations"), os.path.join(root, "training")
rows = list(csv.DictReader(open(os.path.join(fx, "pairs.csv"))))
derived = {r["derived_path"] for r in rows}
sources = {r["source_path"] for r in rows}
def link(rel, to):
    dst = os.path.join(to, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.lexists(dst):
        os.symlink(os.path.join(fx, rel), dst)
for r in derived:
    link(r, gen)
for r in sources:
    link(r, tr)
exts = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".pbm", ".pgm", ".ppm", ".svg")
for d, _, files in os.walk(fx):
    for f in files:
        rel = os.path.relpath(os.path.join(d, f), fx)
        if rel in derived or rel in sources or not rel.lower().endswith(exts):
            continue
        if rel.startswith("idealo-imagededup/") or rel.endswith(("dfdc_2.jpg", "dfdc_3.jpg")):
            link(rel, gen)
        elif rel.startswith(("debian-wallpapers/", "pkg-sample-images/")):
            link(rel, tr)
PY
status=0
for variant in default cascade somepalli centre regions; do
  case $variant in
    default) extra=() ;;
    cascade) extra=(--shortlist on) ;;
    somepalli) extra=(--preset somepalli-2022) ;;
    centre) extra=(--centre) ;;
    regions) extra=(--regions on) ;;
  esac
  for side in old new; do
    bin=$old; [[ $side == new ]] && bin=$new
    rm -rf "$work/project-$side-$variant"
    "$bin" scan --generations "$work/data/generations" --training "$work/data/training" \
      --project "$work/project-$side-$variant" --out "$work/$side-$variant.jsonl" --force \
      --no-setup "${extra[@]}" 2>"$work/$side-$variant.log"
  done
  if cmp -s "$work/old-$variant.jsonl" "$work/new-$variant.jsonl"; then
    echo "$variant: identical ($(wc -l <"$work/new-$variant.jsonl") lines)"
  else
    echo "$variant: DIFFERENT ($work/old-$variant.jsonl, $work/new-$variant.jsonl)"
    status=1
  fi
done
exit $status
