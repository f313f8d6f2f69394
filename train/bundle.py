"""Turn a training run's best generator into the bundled default model (fp16, with a model card).

    python -m vidcolor.train.bundle RUN_DIR [--weights RUN_DIR/snapshots/step_N.safetensors] [--dest vidcolor/weights]

By default the run's ``best.safetensors`` (lowest validation L1); ``--weights`` picks another file
of the run, e.g. the snapshot that ``benchmarks/compare_models.py`` measured best.

Writes ``default.safetensors`` (fp16 tensors, float32 at load), ``default.json`` (architecture,
step, validation metrics, training recipe) and ``recipe.toml`` (the run's resolved config).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from vidcolor.modelfile import load_generator, save_generator


def bundle(run: Path, dest: Path, weights: Path | None = None, selected_by: str | None = None) -> Path:
    generator, info = load_generator(weights or run / "best.safetensors")
    dest.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in info.items() if k not in ("format", "generator")}
    if selected_by:
        meta["selected_by"] = selected_by
    data = run / "data.json"
    if data.exists():
        split = json.loads(data.read_text())
        meta["validation_files"] = [Path(p).name for p in split["val"]]
    out = dest / "default.safetensors"
    save_generator(out, generator, meta, half=True)
    shutil.copyfile(run / "config.toml", dest / "recipe.toml")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--weights", type=Path, default=None, help="generator file to ship [RUN/best.safetensors]")
    ap.add_argument("--selected-by", default=None, help="how the shipped file was chosen (kept in its metadata)")
    ap.add_argument("--dest", type=Path, default=Path(__file__).resolve().parents[1] / "vidcolor" / "weights")
    args = ap.parse_args()
    print(bundle(args.run, args.dest, args.weights, args.selected_by))


if __name__ == "__main__":
    main()
