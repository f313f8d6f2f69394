"""Writes ``last_pt_v2026_12.pt`` beside this script: a tiny run's ``last.pt`` as the training loop of
December 2026 (commit b45b328, before the loop became RunState/train_step/evaluate) saved it, so
``tests/test_train.py::test_a_december_2026_checkpoint_resumes`` can show that such runs still resume.

The run: 4 gradient pictures (``write_data``, which the test repeats), a tiny U-Net (base 2), size 32,
6 steps of which 2 pre-train, weight average on, stopped after step 4 (so D and its optimiser have
state, and 2 steps are left to resume). Paths in the saved config are relative (``data``, ``run``):
the test runs from a folder that holds ``data/``.

Made with the code of that commit, from an empty folder (vidcolor.train and vidcolor.engines are
installed from train/ and engines/, hence the copies)::

    git -C /work/main archive b45b328 | tar -x -C /tmp/old_tree
    mkdir /tmp/old_pkg && cp -r /tmp/old_tree/vidcolor /tmp/old_pkg/
    cp -r /tmp/old_tree/train /tmp/old_pkg/vidcolor/train && cp -r /tmp/old_tree/engines /tmp/old_pkg/vidcolor/engines
    cd "$(mktemp -d)" && PYTHONPATH=/tmp/old_pkg /work/main/.venv/bin/python /work/main/tests/data/make_old_checkpoint.py

(torch 2.14.1, numpy 2.4.6, CPU.)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # make_media

from make_media import gradient_frame, write_image  # noqa: E402

FIXTURE = HERE / "last_pt_v2026_12.pt"


def write_data(root: Path) -> Path:
    """The 4 colour pictures the run trained on."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        write_image(root / f"img{i}.png", gradient_frame(48 + 8 * i, 40, t=i))
    return root


def main() -> None:
    from vidcolor.model import GeneratorConfig
    from vidcolor.train.config import TrainConfig
    from vidcolor.train.loop import train

    write_data(Path("data"))
    cfg = TrainConfig(
        data=("data",),
        out="run",
        steps=6,
        pretrain_steps=2,
        size=32,
        batch_size=2,
        workers=0,
        device="cpu",
        precision="fp32",
        log_every=1,
        eval_every=2,
        sample_every=2,
        ckpt_every=2,
        val_items=2,
        d_base=4,
        d_layers=2,
        ema_decay=0.9,
        generator=GeneratorConfig(base=2, depth=3, max_channels=8),
    )
    train(cfg, log=print, progress=False, stop_at=4)
    shutil.copyfile(Path("run") / "last.pt", FIXTURE)
    print(f"{FIXTURE}: {FIXTURE.stat().st_size} bytes")


if __name__ == "__main__":
    main()
