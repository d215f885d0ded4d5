#!/bin/bash
# Small-copy constructions for measuring region matching (issue 11): every fourth JPEG/PNG of a
# training folder (at most 20; EVERY=N and MAX=M change both) pasted at 15, 20, 25 and 35% of the width into three kinds of
# background drawn here (photo-like plasma, a web page, a dark app screenshot; WIDTHS="10 15" sets
# the widths), 240 images,
# with their truth for `replicant eval` (the set is the paste width).
#
#   examples/make_pasted_copies.sh TRAINING_DIR OUT_DIR
#   replicant scan --generations OUT_DIR/gen --training TRAINING_DIR --regions on --out r.jsonl
#   (cd OUT_DIR/gen && replicant eval --truth ../truth.csv --results r.jsonl)
#
# Needs ImageMagick's `convert`. It takes sources from whatever folder it is given: to choose a
# constant on these, give it the tuning half's sources only (tests/fixture_split/tune.csv).
set -e
training=$(cd "$1" && pwd)
mkdir -p "$2/gen" "$2/bg"
cd "$2"
srcs=$(cd "$training" && find -L . -type f \( -name '*.jpg' -o -name '*.png' \) | sort | awk -v n="${EVERY:-4}" 'NR%n==1 || n==1' | head -"${MAX:-20}")
i=0
echo "set,derived_path,source_path,kind" > truth.csv
for s in $srcs; do
  s=${s#./}
  for kind in photo page app; do
    bg=bg/$kind-$i.png
    case $kind in
      photo) convert -size 1280x800 -seed $i plasma:fractal -blur 0x2 $bg ;;
      page) convert -size 1280x800 xc:white -fill '#e8e8e8' -draw "rectangle 0,0 1280,70" -fill '#3366cc' -draw "rectangle 40,25 360,50" -fill '#999999' -draw "rectangle 60,130 860,140" -draw "rectangle 60,160 820,170" -draw "rectangle 60,190 840,200" -fill '#f2f2f2' -draw "rectangle 900,100 1240,760" $bg ;;
      app) convert -size 1280x800 xc:'#1e1e24' -fill '#2d2d36' -draw "rectangle 0,0 260,800" -fill '#3a3a46' -draw "rectangle 280,20 1260,60" -fill '#aaaaaa' -draw "rectangle 300,34 560,46" $bg ;;
    esac
    for w in ${WIDTHS:-15 20 25 35}; do
      px=$((1280*w/100))
      x=$(( (i*97 + w*13) % (1280-px-20) + 10 ))
      y=$(( (i*53 + w*7) % 300 + 90 ))
      name=${kind}_${i}_w${w}.jpg; out=gen/$name
      convert $bg \( "$training/$s[0]" -resize ${px}x \) -geometry +$x+$y -composite -quality 90 $out
      echo "paste$w,$name,$s,near_copy" >> truth.csv
    done
  done
  i=$((i+1))
done
