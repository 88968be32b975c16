"""A homogeneous plasma in local thermodynamic equilibrium (LTE): what a LIBS plume emits.

For each sample of a batch (temperature ``T``, electron density ``n_e``, composition):

* **Saha balance** of neutral (I) and singly ionized (II) species,
  ``n_II n_e / n_I = 2 (U_II / U_I) (2 pi m_e k T / h^2)^{3/2} exp(-(chi - dchi) / kT)``, with
  the Debye lowering ``dchi = e^2 / (4 pi eps0 lambda_D) = 2.09e-8 sqrt(n_e / T)`` eV (``n_e``
  in cm^-3, ``T`` in K; 0.07 eV at 10^17 cm^-3 and 10^4 K). Charge neutrality
  (``n_e = sum n_II``) then fixes the heavy-particle density for the given ``n_e``.
* **Boltzmann populations** of the upper levels, ``n_k = n_s g_k exp(-E_k / kT) / U_s(T)``,
  with partition functions summed over the NIST levels (:mod:`spectral.atomic`).
* **Line emissivity** ``eps = (h c / 4 pi lambda) A_ki n_k`` (W m^-3 sr^-1), times the plasma
  length ``L`` for the radiance of an optically thin plume.
* **Self-absorption** (optional): the line-centre optical depth
  ``tau_0 = (lambda^4 / 8 pi c) A_ki (g_k / g_i) n_i (1 - exp(-hc / lambda kT)) L phi(0)`` with
  ``phi(0)`` the peak of the line's Voigt profile, and the curve of growth of a homogeneous
  slab for the integrated line (:meth:`LTEPlasma.escape_factor`: Ladenburg-Reiche for the
  Lorentzian part, whose wings keep growing, ``(1 - exp(-tau)) / tau`` for the Gaussian
  part). The self-absorbed line keeps the profile of a thin one (no dip, no broadening;
  :func:`saturation_broadening` gives the widening, which the CF-LIBS fit may use).
* **Stark widths** from a hydrogenic scaling, ``w = C lambda^2 n*^4 / z^2 (n_e / 10^17)``
  (FWHM, nm) with ``n*^2 = 13.6 z^2 / (chi_s - E_k)`` the upper level's effective quantum number,
  capped at ``n*^4 = 100``; ``C = 1e-8`` puts Fe I lines at 0.01-0.05 nm at ``10^17 cm^-3``, the
  range measured for them. Line-by-line Stark data would be better; few lines have them.
* **Doppler widths** ``lambda sqrt(8 kT ln2 / m c^2)``; **continuum**: Kramers
  bremsstrahlung plus recombination, ``eps_c = 1.63e-43 n_e n_+ T^{-1/2} lambda^{-2}`` (W m^-3
  sr^-1 m^-1, SI), with unit Gaunt and Biberman factors.

Not modelled: double ionization, molecular bands, plasma inhomogeneity and time gating (a
time-integrated spectrum is one LTE state here), pressure shifts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from spectral.atomic import HC_EV_NM, K_B_EV, AtomicData, Lines

H = 6.62607015e-34
C = 2.99792458e8
K_B = 1.380649e-23
AMU = 1.66053906660e-27
SAHA_CM3 = 4.8294e15  # 2 (2 pi m_e k / h^2)^{3/2} in cm^-3 K^-3/2
STARK_C = 1e-8  # nm^-1 (see the module docstring)
CONTINUUM_C = 1.63e-43  # W m^4 K^1/2 sr^-1


@dataclass(frozen=True)
class LineTable:
    """The lines of a plasma model in array form (air nm), indexed by element column."""

    lines: Lines
    el_index: np.ndarray  # (L,) column of the line's element in the composition
    stark_ref_nm: np.ndarray  # (L,) Stark FWHM at n_e = 1e17 cm^-3
    doppler_coef: np.ndarray  # (L,) Doppler FWHM / sqrt(T)

    def select(self, which: np.ndarray) -> LineTable:
        """The lines that ``which`` (bool or indices, in their order) selects."""
        return LineTable(
            self.lines.select(which),
            self.el_index[which],
            self.stark_ref_nm[which],
            self.doppler_coef[which],
        )


class LTEPlasma:
    """Line intensities and continuum of LTE plasmas of ``elements`` in a wavelength window."""

    def __init__(
        self,
        atomic: AtomicData,
        elements: Sequence[str],
        window_nm: tuple[float, float],
        length_m: float = 1e-3,
        t_grid_k: tuple[float, float] = (3000.0, 25000.0),
    ) -> None:
        self.atomic = atomic
        self.elements = tuple(elements)
        self.length_m = length_m
        lines = atomic.in_window(*window_nm)
        keep = np.isin(lines.element, self.elements)
        lines = lines.select(keep)
        self.mass = np.array([atomic.mass_u[e] for e in self.elements])
        self.chi = np.array([atomic.ionization_ev[e] for e in self.elements])
        names, inverse = np.unique(lines.element, return_inverse=True)
        el_index = np.array([self.elements.index(e) for e in names], dtype=np.int64)[inverse]
        z = lines.stage.astype(np.float64)
        # effective quantum number of the upper level, from the limit of its own species
        from eftgan.elements import element as registry

        limits = np.array(
            [[registry(e).ionization_energies_ev[st] for st in (0, 1)] for e in self.elements]
        ).reshape(len(self.elements), 2)
        chi_s = limits[el_index, lines.stage - 1]
        binding = np.clip(np.nan_to_num(chi_s - lines.ek, nan=5.0), 0.3, None)
        n4 = np.minimum((13.6 * z**2 / binding) ** 2, 100.0)
        stark = STARK_C * lines.wavelength**2 * n4 / z**2  # nm
        dop = lines.wavelength * np.sqrt(8 * K_B * np.log(2) / (self.mass[el_index] * AMU * C**2))
        self.table = LineTable(lines, el_index, stark, dop)
        # partition functions tabulated on a log-T grid, interpolated per sample
        self._lt = np.linspace(np.log(t_grid_k[0]), np.log(t_grid_k[1]), 256)
        t = np.exp(self._lt)
        self._u = np.stack(
            [np.stack([_partition_table(atomic, e, s, t) for s in (1, 2)]) for e in self.elements]
        )  # (E, 2, 256)

    def set_length(self, length_m: float) -> None:
        """Change the plasma length (m); the cached line constants fold it in."""
        if length_m != self.length_m:
            self.length_m = length_m
            self.__dict__.pop("_consts_for", None)

    @property
    def n_lines(self) -> int:
        """The number of lines in the line table."""
        return len(self.table.lines)

    def partition(self, temperature_k: np.ndarray) -> np.ndarray:
        """(B, E, 2) partition functions."""
        x = np.log(np.clip(temperature_k, np.exp(self._lt[0]), np.exp(self._lt[-1])))
        idx = np.clip(np.searchsorted(self._lt, x) - 1, 0, len(self._lt) - 2)
        w = (x - self._lt[idx]) / (self._lt[idx + 1] - self._lt[idx])
        u0, u1 = self._u[:, :, idx], self._u[:, :, idx + 1]  # (E, 2, B)
        return np.moveaxis(u0 * (1 - w) + u1 * w, -1, 0)

    def species_densities(
        self, mole_fraction: np.ndarray, temperature_k: np.ndarray, ne_cm3: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Densities (cm^-3) of I and II, each (B, E), and the partition functions (B, E, 2)."""
        t = temperature_k[:, None]
        u = self.partition(temperature_k)
        r = saha_ratio(self.chi[None, :], u[:, :, 1] / u[:, :, 0], t, ne_cm3[:, None])
        frac_ion = r / (1.0 + r)
        heavy = ne_cm3 / np.clip((mole_fraction * frac_ion).sum(1), 1e-12, None)  # cm^-3
        n_el = mole_fraction * heavy[:, None]
        return np.stack([n_el * (1 - frac_ion), n_el * frac_ion], -1), u

    def line_radiance(
        self,
        mole_fraction: np.ndarray,
        temperature_k: np.ndarray,
        ne_cm3: np.ndarray,
        self_absorption: bool = True,
    ) -> np.ndarray:
        """Integrated radiance of each line, W m^-2 sr^-1: array (B, L)."""
        return self.line_radiance_t(mole_fraction, temperature_k, ne_cm3, self_absorption).numpy()

    def _line_constants(self) -> dict[str, torch.Tensor]:
        tb = self.table
        if getattr(self, "_consts_for", None) is not tb:
            ln = tb.lines
            lam_m = ln.wavelength * 1e-9
            log_emit = np.log(H * C / (4 * np.pi * lam_m) * ln.aki * ln.gk * 1e6)
            log_absorb = np.log(lam_m**4 / (8 * np.pi * C) * ln.aki * ln.gk * 1e6)
            d = {  # float32, signs and the plasma length folded in
                "log_emit_l": log_emit + np.log(self.length_m),
                "log_absorb_l": log_absorb + np.log(self.length_m * 1e9),
                "neg_ek": -ln.ek,
                "neg_ei": -ln.ei,
                "neg_hc_lam": -HC_EV_NM / ln.wavelength,
                "inv_stark": 1.0 / tb.stark_ref_nm,
                "dop_over_stark": tb.doppler_coef / tb.stark_ref_nm,
            }
            d = {k: v.astype(np.float32) for k, v in d.items()}
            d["sp"] = tb.el_index * 2 + (ln.stage - 1)
            self._consts = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in d.items()}
            self._consts_for = tb
        return self._consts

    def _tau(
        self,
        k: dict[str, torch.Tensor],
        log_pop: torch.Tensor,
        inv_kt: torch.Tensor,
        ne_cm3: np.ndarray,
        temperature_k: np.ndarray,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Line-centre optical depths and the profiles' Lorentzian shares, (B, L) each, in
        float32, from the lines' constants ``k``, ``log(n_s / U_s)`` per line (overwritten)
        and ``1 / kT`` (B,). Exponents are summed in log space so that float32 neither
        underflows nor overflows; every (B, L) step is done in place, since this is most of
        the simulator's time.

        With the Olivero-Longbothum Voigt width ``f_v = f_l g``, ``g = 0.5346 +
        sqrt(0.2166 + r^2)`` and ``r = f_g / f_l``, the Lorentzian share is ``a = 1 / g`` and
        the profile peak ``(0.6366 a + 0.9394 (1 - a)) / f_v = (0.9394 - 0.3028 a) a / f_l``.
        """
        f32 = np.float32
        temperature_k = np.asarray(temperature_k, dtype=np.float64)
        ne_cm3 = np.asarray(ne_cm3, dtype=np.float64)
        # r = f_g / f_l = (dop / stark) * sqrt(T) / (n_e / 1e17), an outer product
        per_sample = torch.from_numpy((np.sqrt(temperature_k) * 1e17 / ne_cm3).astype(f32))
        a = torch.outer(per_sample, k["dop_over_stark"])
        a.mul_(a).add_(0.2166).sqrt_().add_(0.5346).reciprocal_()
        # k_int * phi(0) * L, phi(0) the profile peak (m^-1; widths in nm)
        tau = torch.addcmul(log_pop.add_(k["log_absorb_l"]), inv_kt[:, None], k["neg_ei"][None, :])
        tau.exp_()
        stim = torch.outer(inv_kt, k["neg_hc_lam"]).expm1_().neg_()  # 1 - exp(-h nu / kT)
        tau.mul_(stim)
        tau.mul_(torch.outer(torch.from_numpy((1e17 / ne_cm3).astype(f32)), k["inv_stark"]))
        tau.mul_(torch.mul(a, -0.3028).add_(0.9394).mul_(a))
        return tau, a

    @staticmethod
    def escape_factor(tau: torch.Tensor, lorentz_share: torch.Tensor) -> torch.Tensor:
        """Integrated-line self-absorption factor of a homogeneous slab.

        Lorentzian profile: the Ladenburg-Reiche curve of growth, ``exp(-x) (I0(x) + I1(x))``
        with ``x = tau / 2`` (falls as ``2 / sqrt(pi tau)``: the wings keep growing). Gaussian
        profile: ``(1 - exp(-tau)) / tau``. A Voigt profile mixes the two by its Lorentzian
        share. This is the exact form; the simulator uses :func:`escape_factor_fast`.
        """
        x = 0.5 * tau
        lor = torch.special.i0e(x) + torch.special.i1e(x)
        gau = torch.where(tau > 1e-6, -torch.expm1(-tau) / tau.clamp(min=1e-6), 1.0)
        return lorentz_share * lor + (1.0 - lorentz_share) * gau

    def line_radiance_t(
        self,
        mole_fraction: np.ndarray,
        temperature_k: np.ndarray,
        ne_cm3: np.ndarray,
        self_absorption: bool = True,
    ) -> torch.Tensor:
        """:meth:`line_radiance` as a float32 tensor (vectorised with torch, in float32)."""
        k = self._line_constants()
        log_pop, inv_kt = self._log_populations(k, mole_fraction, temperature_k, ne_cm3)
        rad = torch.add(log_pop, k["log_emit_l"])
        rad.addcmul_(inv_kt[:, None], k["neg_ek"][None, :]).exp_()
        if self_absorption:
            tau, share = self._tau(k, log_pop, inv_kt, ne_cm3, temperature_k)
            rad.mul_(escape_factor_fast(tau, share, overwrite=True))
        return rad

    def escape_factors_t(
        self, mole_fraction: np.ndarray, temperature_k: np.ndarray, ne_cm3: np.ndarray
    ) -> torch.Tensor:
        """Each line's self-absorption factor, (B, L) in float32: what
        :meth:`line_radiance_t` multiplies the optically thin radiance by."""
        k = self._line_constants()
        log_pop, inv_kt = self._log_populations(k, mole_fraction, temperature_k, ne_cm3)
        tau, share = self._tau(k, log_pop, inv_kt, ne_cm3, temperature_k)
        return escape_factor_fast(tau, share, overwrite=True)

    def _log_populations(
        self,
        k: dict[str, torch.Tensor],
        mole_fraction: np.ndarray,
        temperature_k: np.ndarray,
        ne_cm3: np.ndarray,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``log(n_s / U_s)`` of each line's species, (B, L), and ``1 / kT`` (B,), float32."""
        n, u = self.species_densities(mole_fraction, temperature_k, ne_cm3)
        log_pop = torch.index_select(
            torch.from_numpy(
                np.log(np.clip(n / u, 1e-300, None)).reshape(len(n), -1).astype(np.float32)
            ),
            1,
            k["sp"],
        )
        t = np.asarray(temperature_k, dtype=np.float64)
        return log_pop, torch.from_numpy((1.0 / (K_B_EV * t)).astype(np.float32))

    def continuum(
        self, wavelength_nm: np.ndarray, temperature_k: np.ndarray, ne_cm3: np.ndarray
    ) -> np.ndarray:
        """Continuum radiance per nm, W m^-2 sr^-1 nm^-1: (B, P). Singly charged ions only."""
        ne_m3 = ne_cm3[:, None] * 1e6
        lam_m = wavelength_nm[None, :] * 1e-9
        eps = CONTINUUM_C * ne_m3 * ne_m3 / np.sqrt(temperature_k[:, None]) / lam_m**2  # per m
        return eps * 1e-9 * self.length_m


_PARTITION_TABLES: dict[tuple[str, str, int, float, float, int], np.ndarray] = {}


def debye_lowering_ev(ne_cm3: np.ndarray | float, t_k: np.ndarray | float) -> np.ndarray:
    """The lowering (eV) of the ionisation energies by the plasma's Debye shielding."""
    return 2.086e-8 * np.sqrt(np.asarray(ne_cm3) / t_k)


def saha_ratio(
    chi_ev: np.ndarray, u_ratio: np.ndarray, t_k: np.ndarray | float, ne_cm3: np.ndarray | float
) -> np.ndarray:
    """``n_II / n_I`` of an element in LTE (Saha), with ``u_ratio = U_II / U_I`` its partition
    functions' ratio and the ionisation energy ``chi_ev`` lowered by
    :func:`debye_lowering_ev`."""
    dchi = debye_lowering_ev(ne_cm3, t_k)
    s = SAHA_CM3 * t_k**1.5 * u_ratio * np.exp(-(chi_ev - dchi) / (K_B_EV * t_k))
    return s / ne_cm3


def _partition_table(atomic: AtomicData, element: str, stage: int, t: np.ndarray) -> np.ndarray:
    """``atomic.partition_function`` on the grid ``t``, computed once per process (it sums
    over thousands of levels, and every plasma of the same element needs the same table)."""
    key = (atomic.source, element, stage, float(t[0]), float(t[-1]), len(t))
    if key not in _PARTITION_TABLES:
        _PARTITION_TABLES[key] = atomic.partition_function(element, stage, t)
    return _PARTITION_TABLES[key]


def mole_fractions(wt: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Mass fractions (B, E) -> mole fractions (B, E)."""
    n = wt / masses[None, :]
    return n / n.sum(1, keepdims=True)


# The escape factor tabulated against log(tau) for tau 1e-6 to 1e9, read at the nearest node:
# within 3e-4 (relative) of the Bessel functions, and several times faster on a CPU.
_ESC_LOG_TAU = (-14.0, 21.0, 65537)
_ESC_TABLES: dict[torch.dtype, torch.Tensor] = {}  # the float64 table and its casts


def _escape_table(dtype: torch.dtype) -> torch.Tensor:
    """(2, n): the Gaussian escape factor and the Lorentzian's excess over it, per node."""
    if torch.float64 not in _ESC_TABLES:
        lo, hi, n = _ESC_LOG_TAU
        t = torch.exp(torch.linspace(lo, hi, n, dtype=torch.float64))
        lor, gau = (LTEPlasma.escape_factor(t, torch.full_like(t, s)) for s in (1, 0))
        _ESC_TABLES[torch.float64] = torch.stack([gau, lor - gau])
    if dtype not in _ESC_TABLES:
        _ESC_TABLES[dtype] = _ESC_TABLES[torch.float64].to(dtype)
    return _ESC_TABLES[dtype]


def escape_factor_fast(
    tau: torch.Tensor, lorentz_share: torch.Tensor, overwrite: bool = False
) -> torch.Tensor:
    """:meth:`LTEPlasma.escape_factor` by table look-up, in the dtype of ``tau``; with
    ``overwrite`` both inputs are used as scratch space."""
    lo, hi, n = _ESC_LOG_TAU
    tab = _escape_table(tau.dtype)
    step = (hi - lo) / (n - 1)
    pos = tau.log_() if overwrite else torch.log(tau)
    i = pos.sub_(lo - 0.5 * step).mul_(1.0 / step).clamp_(0, n - 1).long()  # log 0 -> node 0
    share = lorentz_share if overwrite else lorentz_share.clone()
    return share.mul_(torch.take(tab[1], i)).add_(torch.take(tab[0], i))


def saturation_broadening(escape: np.ndarray) -> np.ndarray:
    """How much wider than its optically thin profile a self-absorbed Lorentzian line
    leaves a homogeneous slab, from its escape factor (the Ladenburg-Reiche curve of
    growth of :meth:`LTEPlasma.escape_factor`). The emergent profile
    ``1 - exp(-tau_0 / (1 + x^2))`` (``x`` in half widths) has its half maximum at
    ``x = sqrt(tau_0 / a - 1)``, ``a = -ln((1 + exp(-tau_0)) / 2)``: 1 for a thin line and
    ``sqrt(tau_0 / ln 2)`` for a thick one, whose centre saturates while its wings keep
    growing. The line-centre depth ``tau_0`` is read back from the escape factor, which
    falls monotonically with it, so the factor needs nothing the escape factors do not
    hold. A line mostly Doppler-broadened widens less (its Gaussian wings fall fast): for
    it this overstates the widening."""
    escapes, widths = _broadening_table()
    esc = np.clip(np.asarray(escape, dtype=np.float64), 0.0, 1.0)
    return np.interp(esc, escapes, widths)


@functools.lru_cache(maxsize=1)
def _broadening_table() -> tuple[np.ndarray, np.ndarray]:
    """The Lorentzian escape factor (rising) and the widening factor, on a grid of
    line-centre optical depths from 3e-4 to 6.6e7."""
    tau = np.exp(np.linspace(18.0, -8.0, 2049))  # falling depth: rising escape factor
    a = np.log(2.0) - np.log1p(np.exp(-tau))  # -ln((1 + exp(-tau)) / 2)
    width = np.sqrt(np.maximum(tau / a - 1.0, 1.0))
    t = torch.from_numpy(tau)
    escape = LTEPlasma.escape_factor(t, torch.ones_like(t)).numpy()
    return escape, width
