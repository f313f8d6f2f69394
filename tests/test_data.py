import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from make_media import gradient_frame, write_video
from vidcolor.train.data import FrameDataset, Source, StepSampler, crop_params, sample_video, scan, split_by_file


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
            top, left, ch, cw = crop_params(rng, 300, 400, min_area)
            assert 0 <= top <= 300 - ch and 0 <= left <= 400 - cw
            assert ch * cw >= 0.95 * min_area * 300 * 400 or (ch, cw) == (300, 300)
    # A smaller minimum reaches smaller crops (more zoom variety for the same pictures).
    small = min(math.prod(crop_params(random.Random(i), 300, 400, 0.08)[2:]) for i in range(200))
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


def test_batches_made_on_the_device_are_the_loaders_batches(tmp_path):
    """--preload on a GPU cuts each step's crops on the device (the CPU loader starved the GPU):
    the same pictures, crops and flips as the CPU path, step for step and from a resumed step,
    pixels within resampling rounding (run here on the CPU device: the code is the same)."""
    import itertools

    from vidcolor.train.device_data import DeviceBatches

    rng = np.random.default_rng(0)

    def picture(h: int, w: int) -> np.ndarray:
        x = np.arange(w)[None, :, None] / 17 + np.arange(3)  # smooth, as photographs are
        return (np.sin(x) * 100 + 120 + rng.normal(0, 5, (h, w, 3))).clip(0, 255).astype(np.uint8)

    sources = [Source(Path(f"p{i}.png"), "image", [picture(200 + 17 * i, 300 - 11 * i)]) for i in range(5)]
    sources.append(Source(Path("clip.mp4"), "video", [picture(180, 320) for _ in range(3)]))
    ds = FrameDataset(sources, 64, train=True)
    made = DeviceBatches(ds, torch.device("cpu"), 4, seed=3)
    for batch, keys in itertools.islice(zip(made, StepSampler(len(ds), 4, 3), strict=False), 6):
        loader = torch.stack([ds[k] for k in keys])
        assert batch.shape == (4, 3, 64, 64) and batch.dtype == torch.float32
        assert float((batch - loader).abs().mean()) < 0.5 / 255 and float((batch - loader).abs().max()) < 2 / 255
    resumed = next(iter(DeviceBatches(ds, torch.device("cpu"), 4, seed=3, start_step=5)))
    assert torch.equal(resumed, next(itertools.islice(iter(made), 5, None)))
    with pytest.raises(ValueError, match="preload"):
        DeviceBatches(FrameDataset([Source(Path("on_disk.png"), "image")], 64, train=True), torch.device("cpu"), 4, 0)


NO_PYAV = """
import sys
class NoPyAV:
    def find_spec(self, name, path=None, target=None):
        if name == "av" or name.startswith("av."):
            raise ImportError("PyAV is not installed")
sys.meta_path.insert(0, NoPyAV())
from vidcolor.train.data import scan
report = scan([sys.argv[1]])
print(len(report.sources), len(report.unreadable), report.unreadable[0][1] if report.unreadable else "")
print("av" in sys.modules)
"""


def test_training_on_pictures_needs_no_pyav(tmp_path):
    """A GPU image without PyAV trains on pictures (and clips packed as frames): the training data
    path asks Pillow first; a video there is skipped with the reason (was: ImportError at start)."""
    import subprocess
    import sys

    for i in range(2):
        Image.fromarray(gradient_frame(64, 48, t=i)).save(tmp_path / f"p{i}.png")
    write_video(tmp_path / "clip.mp4", [gradient_frame(64, 48, t=i / 5) for i in range(5)])
    r = subprocess.run([sys.executable, "-c", NO_PYAV, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    counts, imported = r.stdout.strip().splitlines()
    assert counts.startswith("2 1 ") and "pip install av" in counts and imported == "False"


def test_a_folder_of_numbered_frames_is_one_clip_and_numbered_photos_stay_photos(tmp_path):
    # A tracker's or scanner's frames (00000.jpg ...) are one clip, sampled like a video; a test set's
    # img_001.png ... beside other pictures, or a camera's unrelated shots, are photos, each trained on.
    clip = tmp_path / "data" / "davis_tennis"
    clip.mkdir(parents=True)
    for i in range(30):
        Image.fromarray(gradient_frame(64, 48, t=i / 20)).save(clip / f"{i:05d}.jpg")
    shots = tmp_path / "data" / "camera"
    shots.mkdir()
    for i in range(30):
        Image.fromarray(gradient_frame(64, 48, t=i * 1.7)[:, ::-1] if i % 2 else gradient_frame(64, 48, t=i)).save(
            shots / f"IMG_{i:04d}.png"
        )
    report = scan([tmp_path / "data"], frames_per_video=8, keep_side=64)
    videos = [s for s in report.sources if s.kind == "video"]
    assert [s.path for s in videos] == [clip]
    assert 1 < len(videos[0]) <= 8
    assert sum(s.kind == "image" and s.path.parent == shots for s in report.sources) == 30


def test_a_raw_h264_stream_is_sampled_though_it_cannot_seek(tmp_path):
    path = write_video(tmp_path / "stream.264", [gradient_frame(64, 48, t=i / 3) for i in range(24)], fps=25)
    report = scan([path], frames_per_video=6, keep_side=64)
    assert not report.unreadable and len(report.sources) == 1 and len(report.sources[0]) > 1


def test_clip_frames_are_decoded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    import vidcolor.train.data as data

    path = write_video(tmp_path / "clip.mp4", [gradient_frame(64, 48, t=i / 3) for i in range(24)], fps=25)
    cache = tmp_path / "cache"
    first = scan([path], frames_per_video=6, keep_side=64, cache=cache)
    assert len(list(cache.glob("*.npz"))) == 1

    def no_decoding(*_a, **_k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(data, "sample_video", no_decoding)
    again = scan([path], frames_per_video=6, keep_side=64, cache=cache)
    assert all(np.array_equal(a, b) for a, b in zip(first.sources[0].frames, again.sources[0].frames, strict=True))
    with pytest.raises(AssertionError, match="decoded again"):  # another sampling is another entry
        scan([path], frames_per_video=5, keep_side=64, cache=cache)
    monkeypatch.undo()
    next(cache.glob("*.npz")).write_bytes(b"damaged")  # a damaged entry is decoded again, not an error
    assert len(scan([path], frames_per_video=6, keep_side=64, cache=cache).sources[0]) == len(first.sources[0])


def test_a_damaged_frame_of_a_frame_folder_is_left_out_and_said_and_the_clip_kept(tmp_path):
    clip = tmp_path / "scan"
    clip.mkdir()
    for i in range(30):
        Image.fromarray(gradient_frame(64, 48, t=i / 20)).save(clip / f"f_{i:04d}.png")
    (clip / "f_0001.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short by a full disk")
    for _ in range(2):  # the second scan reads the cache: the damaged frame is still said
        report = scan([clip], frames_per_video=30, keep_side=64, cache=tmp_path / "cache")
        assert [s.path for s in report.sources] == [clip] and len(report.sources[0]) > 1
        assert [p.name for p, _ in report.unreadable] == ["f_0001.png"]
