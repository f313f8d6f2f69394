import math
import random
from pathlib import Path

import numpy as np
import torch

from make_media import gradient_frame, write_video
from vidcolor.train.data import FrameDataset, Source, StepSampler, _crop_params, sample_video, scan, split_by_file


def test_scan_keeps_colour_sources_and_counts_the_rest(image_folder):
    report = scan([image_folder], frames_per_video=8)
    names = sorted(s.path.name for s in report.sources)
    assert names == ["clip.mp4", "deep.jpg", "img0.png", "img1.png", "img2.png", "img3.png"]
    assert [p.name for p in report.gray] == ["gray.png"]
    assert sorted(p.name for p, _ in report.unreadable) == ["broken.jpg", "notes.mp4"]
    video = next(s for s in report.sources if s.kind == "video")
    assert 1 < len(video) <= 8


def test_video_frames_are_sampled_across_the_whole_clip(tmp_path):
    # Brightness encodes the frame index, so each kept frame tells where it came from.
    frames = []
    for i in range(100):
        f = gradient_frame(32, 32, t=i / 7)
        f[:8, :8] = int(i * 2.5)
        frames.append(f)
    path = write_video(tmp_path / "long.mp4", frames, fps=25)
    kept, _ = sample_video(path, n=5, keep_side=64)
    positions = [float(f[:6, :6].mean()) / 2.5 for f in kept]
    assert len(kept) == 5
    assert positions[0] < 20 and positions[-1] > 80  # start and end of the clip are both represented
    assert positions == sorted(positions)


def test_near_duplicate_frames_are_skipped(tmp_path):
    path = write_video(tmp_path / "still.mp4", [gradient_frame(32, 32)] * 30, fps=25)
    kept, dups = sample_video(path, n=10, keep_side=64)
    assert len(kept) == 1 and dups > 0


def test_video_frames_are_downscaled_to_keep_side(tmp_path):
    path = write_video(tmp_path / "big.mp4", [gradient_frame(320, 240, t=i) for i in range(3)], fps=25)
    kept, _ = sample_video(path, n=3, keep_side=60)
    assert min(kept[0].shape[:2]) == 60


def test_validation_split_is_by_file():
    sources = [Source(Path(f"i{i}.jpg"), "image") for i in range(18)]
    sources += [Source(Path(f"v{i}.mp4"), "video", [np.zeros((4, 4, 3), np.uint8)] * 5) for i in range(2)]
    train, val = split_by_file(sources, 0.1, seed=3)
    assert {id(s) for s in train}.isdisjoint({id(s) for s in val})
    assert len(train) + len(val) == 20 and len(val) >= 2
    assert any(s.kind == "video" for s in val) and any(s.kind == "video" for s in train)
    again = split_by_file(sources, 0.1, seed=3)[1]
    assert [s.path for s in again] == [s.path for s in val]


def test_dataset_crops_are_deterministic_per_seed(image_folder):
    ds = FrameDataset(scan([image_folder]).sources, size=32, train=True)
    a, b, c = ds[(0, 11)], ds[(0, 11)], ds[(0, 12)]
    assert a.shape == (3, 32, 32) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_crop_min_area_bounds_the_crop():
    rng = random.Random(0)
    for min_area in (0.08, 0.3, 1.0):
        for _ in range(200):
            top, left, ch, cw = _crop_params(rng, 300, 400, min_area)
            assert 0 <= top <= 300 - ch and 0 <= left <= 400 - cw
            assert ch * cw >= 0.95 * min_area * 300 * 400 or (ch, cw) == (300, 300)
    # A smaller minimum reaches smaller crops (more zoom variety for the same pictures).
    small = min(math.prod(_crop_params(random.Random(i), 300, 400, 0.08)[2:]) for i in range(200))
    assert small < 0.2 * 300 * 400


def test_sampler_resumes_exactly_and_ranks_do_not_overlap():
    full = StepSampler(10, batch_size=4, seed=1)
    it = iter(full)
    first = [next(it) for _ in range(6)]
    resumed = iter(StepSampler(10, batch_size=4, seed=1, start_step=3))
    assert [next(resumed) for _ in range(3)] == first[3:]
    # Two ranks with batch 2 see exactly what one process with batch 4 sees, split in halves.
    r0, r1 = iter(StepSampler(10, 2, 1, rank=0, world=2)), iter(StepSampler(10, 2, 1, rank=1, world=2))
    for step in range(6):
        assert next(r0) + next(r1) == first[step]


def test_sampler_visits_every_item_each_epoch():
    it = iter(StepSampler(12, batch_size=4, seed=0))
    seen = [i for _ in range(3) for i, _s in next(it)]
    assert sorted(seen) == list(range(12))
