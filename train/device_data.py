"""Training batches made on the device: what keeps a GPU busy.

The CPU path (:class:`vidcolor.train.data.FrameDataset` behind a ``DataLoader``) decodes, crops and
resizes every picture on the host, one at a time; on a GPU that starved the model (the v2 trials
trained at ~320 images/s, held back by the loader). Here, with ``--preload``, every training picture
is put on the device once as uint8 (about 3 bytes a pixel: 1.2 GB for 460 pictures at 768x512), and
each step's random resized crops and flips are cut and resampled there. The schedule is the CPU
path's: the same (picture, seed) pairs from :class:`~vidcolor.train.data.StepSampler` and the same
crop from the same seed (:func:`~vidcolor.train.data.crop_params`), so a resumed or distributed run
sees the batches an uninterrupted one would. Pixels differ from the CPU path's only by resampling
(float bilinear with antialiasing here, uint8 there): a mean difference under 1/255.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.train.data import FrameDataset, StepSampler, crop_params


class DeviceBatches:
    """This rank's training batches, one per step from ``start_step`` on, endlessly: (N, 3, size,
    size) float32 RGB in [0, 1] on ``device`` (``channels_last`` memory when asked: convolutions
    in bf16 run faster in it on GPUs).

    ``ds``: a training :class:`FrameDataset` whose sources are all in memory (``--preload``)."""

    def __init__(
        self,
        ds: FrameDataset,
        device: torch.device,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        rank: int = 0,
        world: int = 1,
        channels_last: bool = False,
    ) -> None:
        if any(not source.frames for source, _j in ds.items):
            raise ValueError("DeviceBatches needs every picture in memory (preload them first)")
        # one uint8 tensor an item (a picture, or one frame of a clip), put on the device once
        self.pictures = [
            torch.from_numpy(np.ascontiguousarray(source.frames[j])).to(device).permute(2, 0, 1)
            for source, j in ds.items
        ]
        self.size, self.min_area, self.channels_last = ds.size, ds.min_area, channels_last
        self.sampler = StepSampler(len(ds), batch_size, seed, start_step=start_step, rank=rank, world=world)

    def crop(self, i: int, seed: int) -> torch.Tensor:
        """Picture ``i``'s random resized crop (and maybe flip) from ``seed``: (1, 3, size, size) in [0, 255]."""
        img = self.pictures[i]
        rng = random.Random(seed)
        top, left, ch, cw = crop_params(rng, img.shape[1], img.shape[2], self.min_area)
        patch = img[None, :, top : top + ch, left : left + cw].float()
        out = F.interpolate(patch, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return out.flip(-1) if rng.random() < 0.5 else out

    def __iter__(self) -> Iterator[torch.Tensor]:
        for keys in self.sampler:
            batch = torch.cat([self.crop(i, seed) for i, seed in keys]).clamp_(0, 255).div_(255)
            yield batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch
