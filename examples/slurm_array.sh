#!/usr/bin/env bash
# Colorize an archive with a Slurm job array: one shard per array task.
#
#   sbatch --array=0-7 examples/slurm_array.sh /archive/reels /archive/colorized
#
# Every task sees the same input list and takes the files whose shard is its SLURM_ARRAY_TASK_ID,
# so N tasks never process the same file. OUT_DIR may be shared (each shard writes its own
# manifest) or per node. Re-submitting the same array after a crash redoes only unfinished files.
# Films of 5 minutes or more are done in segments, so a re-run continues inside them. To split
# ONE long film over the array instead, see examples/slurm_one_film.sh.
#SBATCH --job-name=vidcolor
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=24:00:00
#SBATCH --output=vidcolor-%A_%a.log
# For GPU nodes add: #SBATCH --gres=gpu:1
set -euo pipefail
IN=${1:?input folder}
OUT=${2:?output folder}
N=${SLURM_ARRAY_TASK_COUNT:?run this with sbatch --array=0-(N-1)}
K=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array=0-(N-1)}
# Array ids must run 0..N-1 for the shards to cover every file.
exec vidcolor batch "$IN" -o "$OUT" --shard "$K/$N" --quiet
