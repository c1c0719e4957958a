"""Bad training images end `fairvision train` with one line naming the file, with or without DataLoader workers."""

from __future__ import annotations

import pytest
import yaml
from PIL import Image

from fairvision.cli import main


def damage_first_images(root, damage):
    """Damage image 000.png of every identity of the synthetic set under ``root`` (some are training images)."""
    paths = sorted(root.glob("synthetic-*/images/*/000.png"))
    assert paths
    for path in paths:
        damage(path)
    return paths


def corrupt(path):
    path.write_bytes(b"not a png at all" * 4)


def too_large(path):
    Image.new("RGB", (64, 64), (90, 60, 30)).save(path)  # 4096 pixels; the others have 16 x 16 = 256


def train_cli(tmp_path, tiny, capsys, *extra):
    cfg = tiny(data__root=str(tmp_path / "cache"), train__epochs=1)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run"), "--quiet", *extra])
    return code, capsys.readouterr()


def prepare(tmp_path, tiny, capsys):
    """Generate the synthetic set (one quick training run) so that its images can be damaged."""
    code, cap = train_cli(tmp_path, tiny, capsys)
    assert code == 0, cap.err
    import shutil

    shutil.rmtree(tmp_path / "run")


@pytest.mark.parametrize("num_workers", [0, 1])
def test_corrupt_image_is_one_line_with_workers(tmp_path, tiny, capsys, num_workers):
    prepare(tmp_path, tiny, capsys)
    damaged = damage_first_images(tmp_path / "cache", corrupt)
    code, cap = train_cli(tmp_path, tiny, capsys, "--set", f"data.num_workers={num_workers}")
    err = cap.err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and "DataLoader worker" not in err, err
    assert err.startswith("fairvision train: error: ") and ": cannot decode image (" in err
    assert any(str(p) in err for p in damaged), err


def test_decompression_bomb_during_training(tmp_path, tiny, capsys, monkeypatch):
    prepare(tmp_path, tiny, capsys)
    damaged = damage_first_images(tmp_path / "cache", too_large)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 256-pixel images pass, 4096 > 2 x 1000 do not
    code, cap = train_cli(tmp_path, tiny, capsys)
    err = cap.err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "image too large, refused as a possible decompression bomb" in err
    assert any(str(p) in err for p in damaged), err
