#!/usr/bin/env bash
# Embed a training set as a Slurm array job: array task I of N runs
# `replicant embed --shard I/N`. Submit with the array size you want, e.g.
#
#   sbatch --array=0-63 examples/slurm_embed.sh /data/laion/shards /data/embeddings
#
# then, once every task has finished:
#
#   replicant index build --embeddings /data/embeddings --out /data/laion-index
#
# Every node must see the sources, the output folder and the binary at the same paths, and
# have run `replicant setup` (or have REPLICANT_ORT_LIB and the model). A failed or pre-empted
# task can simply be run again (`sbatch --array=17 ...`): it resumes from its own cache under
# the output folder, and a finished part is not redone. Outside Slurm the script runs one
# worker from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT given by hand (defaults 0 / 1).
#
#SBATCH --job-name=replicant-embed
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=24:00:00
#SBATCH --output=replicant-embed-%A_%a.log
set -euo pipefail

if (($# < 2)); then
  echo "usage: sbatch --array=0-(N-1) $0 SRC [SRC2 ...] OUT_DIR [-- extra replicant embed args]" >&2
  exit 2
fi

# Everything before `--` is sources then the output folder; everything after goes to embed.
before=()
extra=()
while (($# > 0)); do
  if [[ $1 == "--" ]]; then
    shift
    extra=("$@")
    break
  fi
  before+=("$1")
  shift
done
if ((${#before[@]} < 2)); then
  echo "usage: sbatch --array=0-(N-1) $0 SRC [SRC2 ...] OUT_DIR [-- extra replicant embed args]" >&2
  exit 2
fi
out=${before[-1]}
sources=("${before[@]:0:${#before[@]}-1}")

worker=${SLURM_ARRAY_TASK_ID:-0}
# SLURM_ARRAY_TASK_COUNT is the number of tasks in the array; with --array=0-(N-1) that is N.
workers=${SLURM_ARRAY_TASK_COUNT:-1}
threads=${SLURM_CPUS_PER_TASK:-$(nproc)}
replicant=${REPLICANT_BIN:-replicant}

args=(embed --out "$out" --shard "$worker/$workers" --threads "$threads" --decode-threads "$threads" --no-setup)
for source in "${sources[@]}"; do
  args+=(--training "$source")
done
exec "$replicant" "${args[@]}" "${extra[@]}"
