#!/usr/bin/env bash
# Colorize ONE long film with a Slurm job array: each task colorizes its part of the film.
#
#   sbatch --array=0-7 examples/slurm_one_film.sh /archive/film.mkv /archive/colorized/film.mkv
#
# Every task computes the same segments (cut at keyframes, ~30 s each) and takes the contiguous
# slice K of N (--segments K/N). All tasks get the same output path, on a folder they share: parts
# go to the hidden work folder beside it (.film.mkv.vidcolor-segments/), and the task that finishes
# last joins them into OUT without re-encoding (audio, subtitles and chapters copied once from the
# source); the others leave their part and exit 0. A requeued or re-submitted task redoes only its
# unfinished segments; a duplicate of a task that still runs stops with exit 1 (one writer a part).
#SBATCH --job-name=vidcolor-film
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --output=vidcolor-film-%A_%a.log
# For GPU nodes add: #SBATCH --gres=gpu:1
set -euo pipefail
IN=${1:?input film}
OUT=${2:?output file (the same for every task)}
N=${SLURM_ARRAY_TASK_COUNT:?run this with sbatch --array=0-(N-1)}
K=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array=0-(N-1)}
# Array ids must run 0..N-1 for the parts to cover the film.
exec vidcolor "$IN" -o "$OUT" --segments "$K/$N" --quiet
