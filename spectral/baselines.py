"""The two methods a spectroscopist would use instead of a neural network.

* :class:`PLSBaseline`: partial least squares regression (scikit-learn's ``PLSRegression``,
  all elements at once on standardised targets) on min-max scaled spectra; the number of
  latent variables is chosen on the validation set.
* :class:`UnivariateCalibration`: internal-standard calibration curves, one per analyte. The
  analyte line is the pixel where adding the element raises the signal most against the
  steel's own spectrum there (found by simulation at mid-range conditions); the internal
  standard is the Fe pixel chosen the same way. The net peak height (maximum within +-2
  pixels minus the minimum within +-1 nm) of the analyte over that of Fe, fitted by a
  quadratic in wt % on the training spectra. Fe is the balance.

Presence is called for both where the predicted wt % exceeds 0.01.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spectral.dataset import STEEL_ELEMENTS, minmax


class PLSBaseline:
    """Partial least squares on min-max scaled spectra (see the module docstring).

    Args:
        components: the numbers of latent variables tried; the best on validation is kept.
    """

    def __init__(self, components: tuple[int, ...] = (5, 10, 20, 30, 40)) -> None:
        self.components = components
        self.model: Any = None
        self.n_components = 0

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> PLSBaseline:
        """Fit on spectra ``x`` (N, P) and contents ``y`` (N, E, wt %) for each number of
        components; keep the one with the lowest scaled error on ``x_val``, ``y_val``.
        Returns ``self``."""
        from sklearn.cross_decomposition import PLSRegression

        xs, xv = minmax(x), minmax(x_val)
        best = (np.inf, None, 0)
        for k in self.components:
            m = PLSRegression(n_components=k, scale=False).fit(xs, y)
            err = float(np.mean(((m.predict(xv) - y_val) / y.std(0).clip(min=0.05)) ** 2))
            if err < best[0]:
                best = (err, m, k)
        self.model, self.n_components = best[1], best[2]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Contents (wt %, clipped to 0-100) of spectra ``x`` (N, P): (N, E)."""
        return np.clip(self.model.predict(minmax(x)), 0.0, 100.0)


def _net_height(x: np.ndarray, pix: int, half_bg: int) -> np.ndarray:
    lo, hi = max(0, pix - 2), pix + 3
    peak = x[:, lo:hi].max(1)
    bg = x[:, max(0, pix - half_bg) : pix + half_bg + 1].min(1)
    return peak - bg


class UnivariateCalibration:
    """Internal-standard calibration curves, one analyte line per element over an Fe line
    (see the module docstring), for the steel elements on an instrument preset."""

    def __init__(self, instrument: str = "saca2021") -> None:
        self.instrument = instrument
        self.lines: dict[str, int] = {}
        self.coef: dict[str, np.ndarray] = {}

    def _choose_lines(self) -> None:
        from spectral.dataset import simulator
        from spectral.instrument import Conditions

        sim = simulator(self.instrument)
        wl = sim.instrument.wavelength_nm
        base = np.array([68.0, 18.0, 10.0, 2.0, 1.5, 0, 0, 0, 0, 0, 0])
        c = Conditions.fixed(1, 9500.0, 1e17)
        s0 = sim.noiseless(base[None], c)[0].numpy()
        floor = 1e-3 * s0.max()
        for j, el in enumerate(STEEL_ELEMENTS):
            w = base.copy()
            add = 0.2 if j >= 5 else 2.0
            w[j] += add
            w[0] -= add
            d = sim.noiseless(w[None], c)[0].numpy() - s0
            self.lines[el] = int(np.argmax(d / (s0 + floor)))
        self.wavelengths = {el: float(wl[p]) for el, p in self.lines.items()}
        self.half_bg = max(3, int(round(1.0 / float(np.median(np.diff(wl))))))

    def ratios(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Net height of each element's analyte line over that of the Fe line, per spectrum
        of ``x`` (N, P)."""
        fe = np.clip(_net_height(x, self.lines["Fe"], self.half_bg), 1e-9, None)
        return {el: _net_height(x, p, self.half_bg) / fe for el, p in self.lines.items()}

    def fit(self, x: np.ndarray, y: np.ndarray) -> UnivariateCalibration:
        """Choose the lines by simulation and fit a quadratic in the ratio to each element's
        wt % in ``y`` (N, E) over spectra ``x`` (N, P). Returns ``self``."""
        self._choose_lines()
        r = self.ratios(x)
        for j, el in enumerate(STEEL_ELEMENTS[1:], start=1):
            a = np.stack([np.ones_like(r[el]), r[el], r[el] ** 2], 1)
            self.coef[el] = np.linalg.lstsq(a, y[:, j], rcond=None)[0]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Contents (wt %, 0-100, Fe the balance) of spectra ``x`` (N, P): (N, E)."""
        r = self.ratios(x)
        out = np.zeros((len(x), len(STEEL_ELEMENTS)))
        for j, el in enumerate(STEEL_ELEMENTS[1:], start=1):
            out[:, j] = np.stack([np.ones_like(r[el]), r[el], r[el] ** 2], 1) @ self.coef[el]
        out = np.clip(out, 0.0, 100.0)
        out[:, 0] = np.clip(100.0 - out[:, 1:].sum(1), 0.0, 100.0)
        return out
