"""The fixed train / val / test split: disjoint by file, and a run given it never sees a test file."""

import json
from pathlib import Path

import pytest

from vidcolor.errors import BadInputError
from vidcolor.train.config import TrainConfig
from vidcolor.train.loop import train
from vidcolor.train.split import main, make_split, read_split


def test_split_is_disjoint_by_file_seeded_and_names_the_clips(image_folder):
    a = make_split([str(image_folder)], ["clip.mp4"], [], test_photos=1, val_photos=1, seed=0)
    b = make_split([str(image_folder)], ["clip.mp4"], [], test_photos=1, val_photos=1, seed=0)
    assert a == b
    parts = [set(a[k]) for k in ("train", "val", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert any(p.endswith("clip.mp4") for p in a["test"])
    assert len(a["val"]) == 1 and len(a["train"]) == 3  # 5 colour images, 1 clip; gray and broken files left out
    with pytest.raises(BadInputError, match=r"clips not found in the data: nope\.avi"):
        make_split([str(image_folder)], ["nope.avi"], [], 1, 1)


def test_a_run_given_a_split_trains_on_train_validates_on_val_never_opens_test(image_folder, tmp_path, published):
    split = tmp_path / "split.json"
    main([str(image_folder), "--test-clip", "clip.mp4", "--test-photos", "1", "--val-photos", "1", "-o", str(split)])
    assert published == [split]  # never a half-written split under the final name
    files = json.loads(split.read_text())
    cfg = TrainConfig(
        split=str(split), out=str(tmp_path / "run"), steps=2, pretrain_steps=2, size=32, batch_size=2, workers=0,
        eval_every=1, sample_every=1, ckpt_every=1, frames_per_video=4, d_base=8,
    )  # fmt: skip
    train(cfg, log=lambda _m: None, progress=False)
    used = json.loads((tmp_path / "run" / "data.json").read_text())
    assert sorted(used["train"]) == sorted(files["train"]) and sorted(used["val"]) == sorted(files["val"])
    assert not set(files["test"]) & (set(used["train"]) | set(used["val"]))


def test_a_damaged_split_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "split.json"
    bad.write_text('{"train": []}')
    with pytest.raises(BadInputError, match="needs train, val and test lists"):
        read_split(bad)
    bad.write_text("{not json")
    with pytest.raises(BadInputError, match="not a split file"):
        read_split(bad)
    with pytest.raises(BadInputError, match="split file not found"):
        read_split(tmp_path / "missing.json")


def test_split_v4_draws_photos_from_every_folder_clips_at_random_and_holds_out_nothing_trained_before(tmp_path):
    from make_media import gradient_frame, write_image, write_video

    sizes = {"big": 30, "small": 10}
    for folder in (*sizes, "videos"):
        (tmp_path / folder).mkdir()
    for folder, n in sizes.items():
        for i in range(n):
            write_image(tmp_path / folder / f"p{i}.png", gradient_frame(40, 32, t=i + 0.3 * len(folder)))
    for i in range(5):
        write_video(tmp_path / "videos" / f"c{i}.mp4", [gradient_frame(48, 32, t=i + j / 4) for j in range(8)], fps=8)
    data = [str(tmp_path / f) for f in (*sizes, "videos")]
    seen = [str(tmp_path / "big" / "p0.png"), str(tmp_path / "videos" / "c0.mp4")]  # what an old model trained on
    split = make_split(data, [], [], 8, 8, draw_test_clips=2, draw_val_clips=2, train_only=seen)
    for part in ("val", "test"):
        folders = [p.split("/")[-2] for p in split[part]]
        assert folders.count("big") == 6 and folders.count("small") == 2  # in proportion to 30 : 10
        assert folders.count("videos") == 2
        assert not set(seen) & set(split[part])
    assert set(seen) <= set(split["train"])
    assert sum("/videos/" in p for p in split["train"]) == 1
    with pytest.raises(BadInputError, match="kept for training cannot be held out"):
        make_split(data, ["c0.mp4"], [], 8, 8, train_only=seen)


def test_train_only_files_are_matched_by_file_however_the_split_spells_them(image_folder, monkeypatch):
    photos = sorted(str(p) for p in image_folder.rglob("img*.png"))[:2]
    monkeypatch.chdir(image_folder)
    relative = [str(Path(p).relative_to(image_folder)) for p in photos]  # another split, written from there
    split = make_split([str(image_folder)], [], [], 1, 1, train_only=relative)
    assert set(photos) <= set(split["train"])
    with pytest.raises(BadInputError, match="none of the 1 --train-only files is in the data"):
        make_split([str(image_folder)], [], [], 1, 1, train_only=["elsewhere/img0.png"])


def test_split_command_says_bad_input_in_one_line_and_exits_2(image_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(image_folder), "--test-clip", "nope.avi", "-o", str(tmp_path / "s.json")])
    assert stop.value.code == 2 and not (tmp_path / "s.json").exists()
    assert capsys.readouterr().err.strip().splitlines() == ["error: clips not found in the data: nope.avi"]
