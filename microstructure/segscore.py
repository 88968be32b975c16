"""Scores of a grain segmentation against the truth, and the classical baseline.

- **Boundary precision, recall and F** with a tolerance (2 pixels): a predicted boundary
  pixel is right when a true one lies within the tolerance, a true one is found when a
  predicted one does.
- **Adjusted Rand index** of the two label images (scikit-learn): 1 for the same
  partition, about 0 for a random one.
- **Variation of information** split into its two conditional entropies (scikit-image):
  ``split`` = H(prediction | truth), what over-segmentation adds, and ``merge`` =
  H(truth | prediction), what under-segmentation loses (bits).
- **The difference in ASTM G** (planimetric), at any pixel size (it cancels).

The baseline is the classical pipeline: the Sobel gradient of the smoothed image,
scaled so that its Otsu threshold maps to 1/2, through the same watershed as the network's
probabilities (:func:`microstructure.segment.grains_from_probability`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["baseline_probability", "boundary_prf", "score"]


def boundary_prf(pred: np.ndarray, truth: np.ndarray, tol_px: float = 2.0) -> dict[str, float]:
    """Boundary precision, recall and F of two boolean boundary masks."""
    from scipy.ndimage import distance_transform_edt

    near_truth = distance_transform_edt(~truth) <= tol_px
    near_pred = distance_transform_edt(~pred) <= tol_px
    precision = float(near_truth[pred].mean()) if pred.any() else 0.0
    recall = float(near_pred[truth].mean()) if truth.any() else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"boundary_precision": precision, "boundary_recall": recall, "boundary_f": f}


def score(pred_labels: np.ndarray, true_labels: np.ndarray) -> dict[str, float]:
    """All the scores of a predicted grain label image against the true one. Both are
    relabelled into connected grains first (a periodic simulation's grain that leaves one
    edge and enters the opposite one is two grains in the image)."""
    from skimage.measure import label
    from skimage.metrics import variation_of_information
    from sklearn.metrics import adjusted_rand_score

    from microstructure.grainsize import astm_planimetric
    from microstructure.polycrystal import boundary_mask

    pred_labels = label(pred_labels, background=-1, connectivity=1)
    true_labels = label(true_labels, background=-1, connectivity=1)

    out = boundary_prf(boundary_mask(pred_labels), boundary_mask(true_labels))
    out["ari"] = float(adjusted_rand_score(true_labels.ravel(), pred_labels.ravel()))
    split, merge = variation_of_information(true_labels, pred_labels)
    out["vi_split"], out["vi_merge"] = float(split), float(merge)
    out["delta_g"] = astm_planimetric(pred_labels, 1.0) - astm_planimetric(true_labels, 1.0)
    return out


def baseline_probability(img: np.ndarray, blur_px: float = 1.0) -> np.ndarray:
    """A boundary 'probability' from the Sobel gradient: its Otsu threshold maps to 1/2;
    boundaries darker or brighter than the grains both give a high gradient at their
    flanks, so the gradient is closed over 3 pixels to fill the groove's centre."""
    from scipy.ndimage import gaussian_filter, grey_closing
    from skimage.filters import sobel, threshold_otsu

    grad = grey_closing(sobel(gaussian_filter(img.astype(float), blur_px)), size=3)
    t = threshold_otsu(grad)
    return np.clip(grad / (2 * t), 0.0, 1.0)
