import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from media import gradient_frame, write_image, write_video


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
