"""Texture features of micrographs from a fixed random network: a Fréchet distance that looks
at the whole image, and a diversity score that catches a collapsed generator.

No pretrained network can be downloaded here, and Inception's features would describe
photographs anyway. A micrograph is a texture, and a texture is described well by the
statistics of the responses of many local filters over several scales (Portilla and
Simoncelli 2000); random filters serve nearly as well as learned ones for this
(Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?"). So the
encoder is a fixed random network, the same on every machine: four stages of 3 x 3
convolutions with zero-mean random filters (seeded), ReLU and 2 x 2 average pooling, with
:data:`WIDTHS` channels; an image's feature vector is the mean and the standard deviation of
every channel at every stage. The mean of a filter response is a local-pattern frequency, its
spread how unevenly the pattern is laid out, and the deeper stages see further.

* :func:`feature_frechet`: the Fréchet distance between Gaussians fitted to two sets'
  features, after projecting both on the leading principal components of the first (real)
  set (at most a quarter as many as it has images, so the covariances are well estimated).
* :func:`diversity`: the mean pairwise distance between the images of one set, in features
  standardised by a reference (real) set; a generator that draws the same image for every
  noise vector scores near 0, real crops of a micrograph score their own spread. The ratio of
  the generated to the real score is what training and ``micro evaluate`` report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["diversity", "diversity_ratio", "feature_frechet", "texture_features", "tiles"]

WIDTHS = (32, 64, 96, 128)
FEATURE_SEED = 20240
#: The most principal components :func:`feature_frechet` keeps.
MAX_COMPONENTS = 32


class _TextureNet(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(FEATURE_SEED)
        self.convs = nn.ModuleList()
        c_in = channels
        for w in WIDTHS:
            conv = nn.Conv2d(c_in, w, 3, 1, 1, bias=False)
            k = torch.randn(conv.weight.shape, generator=g)
            k = k - k.mean(dim=(2, 3), keepdim=True)  # respond to patterns, not brightness
            conv.weight.data = k / k.flatten(1).norm(dim=1)[:, None, None, None]
            self.convs.append(conv.requires_grad_(False))
            c_in = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for i, conv in enumerate(self.convs):
            if i:
                x = nn.functional.avg_pool2d(x, 2)
            x = torch.relu(conv(x))
            feats += [x.mean((2, 3)), x.std((2, 3))]
        return torch.cat(feats, 1)


_NETS: dict[int, _TextureNet] = {}


@torch.no_grad()
def texture_features(images: Sequence[np.ndarray] | np.ndarray, batch: int = 64) -> np.ndarray:
    """Feature vectors (N, 2 * sum(WIDTHS)) of gray images in [0, 1] ((H, W), all of one size,
    at least 16 pixels on a side: :func:`tiles` cuts larger ones to a common size)."""
    if 1 not in _NETS:
        with torch.random.fork_rng():  # its filters come from its own seed; leave the caller's
            _NETS[1] = _TextureNet(1)
    net = _NETS[1]
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(np.stack([np.asarray(a, np.float32) for a in images[i : i + batch]]))
        out.append(net((x[:, None] - 0.5) / 0.25).double().numpy())
    return np.concatenate(out)


def tiles(images: Sequence[np.ndarray], size: int, limit: int = 1024) -> list[np.ndarray]:
    """Non-overlapping ``size`` x ``size`` tiles of each image (row by row, at most ``limit``
    in all): images of several sizes on the scale of the smallest, so that features of held-out
    micrographs and of generated crops are compared at one field size."""
    out: list[np.ndarray] = []
    for a in images:
        for y in range(0, a.shape[0] - size + 1, size):
            for x in range(0, a.shape[1] - size + 1, size):
                out.append(a[y : y + size, x : x + size])
    step = max(1, len(out) // limit)
    return out[::step][:limit]


def feature_frechet(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between two sets of :func:`texture_features` (rows), on the leading
    principal components of ``real`` (see the module docstring)."""
    from microstructure.metrics import frechet_distance

    mu, sd = real.mean(0), real.std(0) + 1e-12
    zr, zf = (real - mu) / sd, (fake - mu) / sd
    k = max(1, min(MAX_COMPONENTS, len(real) // 4))
    _, _, vt = np.linalg.svd(zr, full_matrices=False)
    return frechet_distance(zr @ vt[:k].T, zf @ vt[:k].T)


#: :func:`diversity` uses at most this many rows (an evenly spaced subset), so that its
#: pairwise matrix stays small.
MAX_DIVERSITY_ROWS = 1000


def diversity(features: np.ndarray, reference: np.ndarray) -> float:
    """Mean pairwise Euclidean distance between the rows of ``features`` (at most
    :data:`MAX_DIVERSITY_ROWS` of them), each dimension standardised by the spread of
    ``reference``'s."""
    if len(features) > MAX_DIVERSITY_ROWS:
        features = features[np.linspace(0, len(features) - 1, MAX_DIVERSITY_ROWS).astype(int)]
    z = features / (reference.std(0) + 1e-12)
    d2 = (z**2).sum(1)[:, None] + (z**2).sum(1)[None, :] - 2 * z @ z.T
    n = len(z)
    return float(np.sqrt(np.maximum(d2, 0.0))[np.triu_indices(n, 1)].mean()) if n > 1 else 0.0


def diversity_ratio(fake: np.ndarray, real: np.ndarray) -> float:
    """Diversity of the generated images' features over that of the real ones (1: as varied
    as the real crops; near 0: collapsed)."""
    return diversity(fake, real) / max(diversity(real, real), 1e-12)
