import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from make_media import gradient_frame, write_image, write_video


def pytest_collection_modifyitems(config, items):
    """Tests marked slow run only when asked for (``pytest -m slow``)."""
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with pytest -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory) -> None:
    """The suite's caches (engine artefacts, training frames) in a folder of its own, never the user's."""
    os.environ["VIDCOLOR_CACHE"] = str(tmp_path_factory.mktemp("vidcolor-cache"))


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder with colour images (nested), one grayscale image, a colour video and a corrupt file."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    for i in range(4):
        write_image(root / f"img{i}.png", gradient_frame(48 + 8 * i, 40, t=i))
    write_image(root / "sub" / "deep.jpg", gradient_frame(64, 48, t=5))
    write_image(root / "gray.png", gradient_frame(48, 48, colour=False))
    write_video(root / "sub" / "clip.mp4", [gradient_frame(64, 48, t=i / 4) for i in range(24)], fps=12)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "notes.mp4").write_text("this is text, not a video\n")
    return root


@pytest.fixture
def published(monkeypatch) -> list[Path]:
    """The final names files were published under during a test, the one durable way
    (:mod:`vidcolor.atomic`): written under their vidcolor temporary name, fsynced, then renamed."""
    from vidcolor.encode import temp_path

    synced: set[str] = set()
    finals: list[Path] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.add(os.path.realpath(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src, dst, *args, **kwargs) -> None:
        src, dst = Path(src), Path(dst)
        if src == temp_path(dst) and str(src.resolve()) in synced:
            finals.append(dst)
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return finals


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small generator file whose output is clearly coloured (its head is biased to orange)."""
    import torch

    from vidcolor.config import GeneratorConfig
    from vidcolor.model import Generator
    from vidcolor.modelfile import save_generator

    torch.manual_seed(0)
    g = Generator(GeneratorConfig(base=4, depth=3, max_channels=16))
    with torch.no_grad():
        g.head.bias.copy_(torch.tensor([0.25, 0.4]))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_generator(path, g.eval(), {"note": "test model"})
    return path


def _register_luma_tint() -> None:
    """Test engine: bright pixels red-ish, dark pixels blue-ish (colour that follows the luma)."""
    import torch

    from vidcolor.engines import list_engines, register_engine

    if "test-luma-tint" in list_engines():
        return

    @register_engine("test-luma-tint", description="tests only")
    def _factory(generator, device, precision="fp32"):
        def engine(L: torch.Tensor) -> torch.Tensor:
            bright = (L > 0).float()
            return torch.cat([0.5 * bright - 0.1 * (1 - bright), 0.2 * bright - 0.5 * (1 - bright)], 1)

        return engine


_register_luma_tint()
