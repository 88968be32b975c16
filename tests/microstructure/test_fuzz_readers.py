"""Fuzzing the micrograph readers: image folders in every format ``microstructure.images`` reads.

A folder of damaged images gives float images in [0, 1] or a one-line UserError, and nothing is
written into it (see ``tests/fuzzing.py``).
"""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eftgan.errors import UserError
from microstructure.images import read_folder
from tests.fuzzing import check_reader, describe, fuzz_settings, mutated


def _image(fmt: str, mode: str) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (24, 20, 3) if mode == "RGB" else (24, 20)).astype(np.uint8)
    im = Image.fromarray(a)
    if mode == "I;16":
        im = Image.fromarray(a.astype(np.uint16) * 257)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


#: One valid image per format and pixel type read_gray handles.
SAMPLES: dict[str, bytes] = {
    "gray.png": _image("PNG", "L"),
    "deep.png": _image("PNG", "I;16"),
    "color.jpg": _image("JPEG", "RGB"),
    "gray.tif": _image("TIFF", "L"),
    "color.bmp": _image("BMP", "RGB"),
}


def valid_images(imgs: list[np.ndarray]) -> str | None:
    """None for a list of finite float images in [0, 1], gray (H, W) or colour (H, W, 3)."""
    for a in imgs:
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or min(a.shape[:2]) < 1:
            return f"shape {a.shape}"
        if not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
            return f"values in [{a.min()}, {a.max()}]"
    return None if imgs else "no images"


def test_samples_are_valid(tmp_path: Path) -> None:
    for name, data in SAMPLES.items():
        (tmp_path / name).write_bytes(data)
    for channels in (1, 3):
        assert valid_images(read_folder(tmp_path, 16, channels)) is None


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims ``width`` x ``height`` pixels, with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_a_user_error(tmp_path: Path) -> None:
    """PIL refuses images of over 179 million pixels with an exception that is no OSError."""
    (tmp_path / "bomb.png").write_bytes(_png_claiming(20_000, 20_000))
    with pytest.raises(UserError, match=r"bomb\.png"):
        read_folder(tmp_path)


@fuzz_settings()
@given(
    st.sampled_from(sorted(SAMPLES)).flatmap(
        lambda n: st.tuples(st.just(n), mutated(SAMPLES[n], huge=False))
    ),
    st.sampled_from([1, 3]),
    st.sampled_from([0, 16, 64]),
)
def test_fuzz_read_folder(case: tuple[str, bytes], channels: int, min_size: int) -> None:
    name, data = case
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / name).write_bytes(data)
        (Path(d) / "ok.png").write_bytes(SAMPLES["gray.png"])
        check_reader(
            "microstructure.read_folder",
            lambda: read_folder(d, min_size, channels),
            Path(d),
            valid_images,
            f"{name}: {describe(data)}",
        )


@fuzz_settings()
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_fuzz_claimed_sizes(width: int, height: int) -> None:
    """PNG headers claiming any size (zero, huge) with next to no pixel data."""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "claim.png").write_bytes(_png_claiming(width, height))
        check_reader(
            "microstructure.read_folder:png_size",
            lambda: read_folder(d),
            Path(d),
            valid_images,
            f"{width}x{height}",
        )
