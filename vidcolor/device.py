"""Where the model runs and at what precision: one rule for colorizing, engines and training.

Torch is imported only when a device or a dtype is made, so option checks (the training config)
can use these names without loading it.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from vidcolor.errors import BadInputError

if TYPE_CHECKING:
    import torch

# Precision name -> the torch dtype autocast runs in (by its attribute name); fp32 runs plain, no autocast.
PRECISIONS: dict[str, str | None] = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}
_DEVICE_NAME = re.compile(r"auto|cpu|cuda(:[0-9]+)?")


def is_device_name(name: str) -> bool:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``: the values ``--device`` takes."""
    return _DEVICE_NAME.fullmatch(name) is not None


def pick_device(name: str, local_rank: int | None = None) -> torch.device:
    """The device ``--device name`` means, the same for ``vidcolor`` and ``vidcolor train``.

    ``auto`` is ``cuda`` when a GPU is there, else the CPU. ``cuda`` is this process's own GPU:
    ``cuda:LOCAL_RANK`` under torchrun (``local_rank``, read from the environment when not given),
    ``cuda:0`` otherwise. ``cuda:N`` is GPU N whatever the rank.
    """
    import torch

    if not is_device_name(name):
        raise BadInputError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise BadInputError(f"--device {name}: no CUDA device is available")
    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
    index = int(name.partition(":")[2] or local_rank)
    if index >= torch.cuda.device_count():
        raise BadInputError(f"--device {name}: no GPU cuda:{index} here ({torch.cuda.device_count()} visible)")
    return torch.device("cuda", index)


def precision_dtype(precision: str) -> torch.dtype | None:
    """The dtype autocast runs in at ``precision`` (fp32 | bf16 | fp16); None for fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    import torch

    attr = PRECISIONS[precision]
    return getattr(torch, attr) if attr else None
