#!/usr/bin/env python3
"""Embed a training set with Ray: one `replicant embed --shard I/N` per Ray task.

    python examples/ray_embed.py --training SRC [--training SRC2 ...] --out DIR \
        --replicant BIN [--shards N] [--address auto|ADDR] [--cpus-per-task 1] \
        [-- EXTRA ARGS FOR replicant embed, e.g. --model sscd-distilled --device cuda]

Ray core only (remote tasks; no Ray Data, no pyarrow). Without --address, `ray.init()`
starts a local cluster on this machine; with `--address auto` (or HOST:PORT) it joins a
running one, where every node must see the sources, the output folder and the binary at the
same paths (a shared file system). A worker is a pure function of its shard: a task that fails
(a node lost, a worker killed, exit status 1) is retried, and the retry resumes from the
worker's own cache under DIR; a part already complete is not redone. Exit status 2 (bad usage)
is not retried. Prints one JSON line per part written, then a summary; exits 1 if any part is
missing after the retries.

Then: `replicant index build --embeddings DIR --out INDEX`.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import ray


class UsageError(Exception):
    """`replicant embed` refused its arguments (exit status 2): retrying cannot help."""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--training", action="append", required=True, metavar="SRC",
                        help="a training source: folder of images and/or .tar shards, or one .tar")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder shared by all tasks")
    parser.add_argument("--replicant", required=True, metavar="BIN",
                        help="the replicant binary (the same path on every node)")
    parser.add_argument("--shards", type=int, default=None, metavar="N",
                        help="number of workers (default: the cluster's CPUs / --cpus-per-task)")
    parser.add_argument("--address", default=None,
                        help="join a running cluster (auto or HOST:PORT); default: start a local one")
    parser.add_argument("--cpus-per-task", type=float, default=1.0,
                        help="CPUs Ray reserves per task (default 1)")
    parser.add_argument("--gpus-per-task", type=float, default=0.0,
                        help="GPUs Ray reserves per task (default 0)")
    parser.add_argument("--max-retries", type=int, default=3,
                        help="retries of a failed task (default 3)")
    parser.add_argument("extra", nargs=argparse.REMAINDER,
                        help="after --: more arguments for `replicant embed`")
    args = parser.parse_args()
    if args.extra and args.extra[0] == "--":
        args.extra = args.extra[1:]
    return args


def embed_shard(replicant, training, out, worker, workers, threads, extra):
    """Runs one worker; returns its JSON summary. Raises on failure so Ray retries."""
    command = [replicant, "embed", "--out", out, "--shard", f"{worker}/{workers}",
               "--threads", str(threads), "--decode-threads", str(threads), "--no-setup"]
    for source in training:
        command += ["--training", source]
    command += extra
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 2:
        raise UsageError(f"worker {worker}/{workers}: {done.stderr.strip()}")
    if done.returncode != 0:
        raise RuntimeError(
            f"worker {worker}/{workers} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    training = [os.path.abspath(t) for t in args.training]
    replicant = os.path.abspath(args.replicant)
    if args.address:
        ray.init(address=args.address, include_dashboard=False)
    else:
        ray.init(include_dashboard=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = args.shards or max(1, int(cpus // max(args.cpus_per_task, 1e-9)))
    threads = max(1, int(args.cpus_per_task))
    task = ray.remote(num_cpus=args.cpus_per_task, num_gpus=args.gpus_per_task,
                      max_retries=args.max_retries, retry_exceptions=[RuntimeError])(embed_shard)
    started = time.time()
    pending = {task.remote(replicant, training, out, i, workers, threads, args.extra): i
               for i in range(workers)}
    written, failed = [], []
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        worker = pending.pop(ready[0])
        try:
            summary = ray.get(ready[0])
        except Exception as err:  # noqa: BLE001 - reported, then the exit status says it
            failed.append(worker)
            print(f"worker {worker}/{workers} failed after retries: {err}", file=sys.stderr)
            continue
        written.append(summary)
        print(json.dumps(summary), flush=True)
    print(json.dumps({
        "parts": sorted(s["part"] for s in written),
        "rows": sum(s["rows"] for s in written),
        "skipped": sum(len(s["skipped"]) for s in written),
        "failed_workers": sorted(failed),
        "workers": workers,
        "seconds": round(time.time() - started, 2),
    }), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
