"""Atomic data for emission spectroscopy: lines, levels, partition functions, air wavelengths.

Source. The NIST Atomic Spectra Database (ASD; Kramida, Ralchenko, Reader and NIST ASD Team),
public-domain data of the US government, as bundled in the MIT-licensed ``libskit`` wheel
(``libskit/data``: ``nist_asd_lines_vacuum.csv`` for lines, ``levels_processed.csv`` for
energy levels). Install it with ``pip install 'eftgan[spectral]'``. Instead, point
``$EFTGAN_NIST_DIR`` (or ``load_atomic_data(source=DIR)``) at a folder with your own NIST ASD
exports in the same two files (lines: CSV export of the ASD lines form with wavelengths in
vacuum, columns ``element, sp_num, ritz_wl_vac(nm) or obs_wl_vac(nm), Aki(s^-1), Ei(eV),
Ek(eV), g_i, g_k, intens``; levels: ``g, Level (eV), Sp. Name``). Masses and ionization
energies come from the element registry (:mod:`eftgan.elements`). Neutral (I) and singly
ionized (II) species are used; LIBS plasmas of a few eV hold little III.

Missing transition probabilities. For many lines NIST gives a relative intensity but no
A_ki; for some species almost all lines in 300-700 nm are like that (A_ki known for 9 of 99
Nd I lines, 0 of 146 Pr I, 7 of 124 Sm I, 7 of 513 Sm II, 10 of 158 Eu II, 0 of 28 Mo II). We
estimate ``g_k A_ki`` from the NIST relative intensity ``I`` with the source model of those
intensities (an arc or spark near LTE): ``I lambda / (g_k A_ki) ∝ exp(-E_k / k T_src)``. A
least-squares fit of ``log(g_k A_ki) = log(I lambda) + a + E_k / (k T_src)`` over the lines
of the same species that have both (over the whole table, not just the window; the element's
two stages together when the species has fewer than 8, else all species of that stage pooled)
gives ``a`` and ``T_src``, and fills in the missing ones, capped at the largest known
``g_k A_ki`` of the element. Such lines carry ``aki_estimated = True``;
:attr:`AtomicData.estimate_scatter` holds the RMS of the fit's residuals in decades per
species (0.1-0.7: a factor 1.3-5). What it means: simulated intensities of Sm, Eu, Pr and Nd
lines are uncertain by that factor, so the detection limits the SACA model reaches on
simulated spectra carry that uncertainty for real instruments: a real spectrometer needs
calibration samples before the rare-earth detection limits can be quoted. Lines with neither
value are left out. NIST lists some lines without their levels (all Pr I and Mo II lines in
the window, most Sm II ones). For species with fewer than 20 lines of known A_ki they are kept
(else dropped), with an upper level at the median energy of the species' classified upper
levels (the element's, where the species has none; at least ``hc / lambda``), ``E_i = E_k -
hc / lambda``, ``g = 1`` and an estimated ``g_k A_ki`` (``classified = False``): a rough model
whose error is part of that scatter.

Wavelengths. NIST tabulates vacuum wavelengths; spectrometers measure in air. The conversion
uses the five-term formula of Ciddor / Peck and Reeder that NIST ASD uses (standard air,
valid 185-1700 nm): :func:`vacuum_to_air`, :func:`air_to_vacuum`. All public wavelengths in
:mod:`spectral` are in air unless named ``*_vac``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError

K_B_EV = 8.617333262e-5  # eV/K
HC_EV_NM = 1239.841984  # eV nm

#: The species handled: neutral and singly ionized.
STAGES = (1, 2)


def _refractivity(lam_vac_nm: np.ndarray) -> np.ndarray:
    """n - 1 of standard air at vacuum wavelength (nm), Peck & Reeder / Ciddor form."""
    s2 = (1e3 / np.asarray(lam_vac_nm, dtype=np.float64)) ** 2  # (1/um)^2
    return 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)


def vacuum_to_air(lam_vac_nm: np.ndarray | float) -> np.ndarray:
    """Air wavelength (nm) of a vacuum wavelength (nm); unchanged below 200 nm (NIST usage)."""
    lam = np.asarray(lam_vac_nm, dtype=np.float64)
    return np.where(lam >= 200.0, lam / (1.0 + _refractivity(lam)), lam)


def air_to_vacuum(lam_air_nm: np.ndarray | float) -> np.ndarray:
    """Vacuum wavelength (nm) of an air wavelength (nm), by fixed-point iteration (< 1e-9 nm)."""
    lam_air = np.asarray(lam_air_nm, dtype=np.float64)
    lam = lam_air.copy()
    for _ in range(4):
        lam = lam_air * (1.0 + _refractivity(lam))
    return np.where(lam >= 200.0, lam, lam_air)  # the 200 nm boundary is on the vacuum side


@dataclass(frozen=True)
class Lines:
    """Lines of several species, one entry per line (air wavelengths in nm)."""

    element: np.ndarray  # str
    stage: np.ndarray  # 1 or 2
    wavelength: np.ndarray  # air, nm
    aki: np.ndarray  # s^-1
    ei: np.ndarray  # eV
    ek: np.ndarray  # eV
    gi: np.ndarray
    gk: np.ndarray
    aki_estimated: np.ndarray  # bool
    classified: np.ndarray  # bool: False for lines NIST gives without levels

    def __len__(self) -> int:
        return len(self.wavelength)

    def select(self, mask: np.ndarray) -> Lines:
        """The lines where ``mask`` (bool or indices) selects them."""
        return Lines(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class AtomicData:
    """Lines, levels and ionization energies of the species of some elements."""

    elements: tuple[str, ...]
    lines: Lines
    levels: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]  # (g, E eV)
    ionization_ev: dict[str, float]  # I -> II
    mass_u: dict[str, float]
    estimate_scatter: dict[tuple[str, int], float]  # decades
    source: str

    def partition_function(self, element: str, stage: int, temperature_k: np.ndarray) -> np.ndarray:
        """``U(T) = sum g exp(-E / kT)`` over the NIST levels below the ionization limit."""
        return partition_function(*self.levels[(element, stage)], temperature_k)

    def in_window(self, lo_nm: float, hi_nm: float) -> Lines:
        """The lines with air wavelengths from ``lo_nm`` to ``hi_nm`` (nm)."""
        w = self.lines.wavelength
        return self.lines.select((w >= lo_nm) & (w <= hi_nm))


def partition_function(
    g: np.ndarray, e_ev: np.ndarray, temperature_k: np.ndarray | float
) -> np.ndarray:
    """``U(T) = sum g exp(-E / kT)`` over levels of statistical weights ``g`` and energies
    ``e_ev`` (eV), at each temperature (K); the result has the temperatures' shape."""
    t = np.asarray(temperature_k, dtype=np.float64)
    return (
        (g[None, :] * np.exp(-e_ev[None, :] / (K_B_EV * t.reshape(-1, 1)))).sum(1).reshape(t.shape)
    )


def _default_source() -> Path:
    env = os.environ.get("EFTGAN_NIST_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import importlib.resources as ir

        return Path(str(ir.files("libskit") / "data"))
    except ModuleNotFoundError:
        raise UserError(
            "no NIST atomic data: install it with pip install 'eftgan[spectral]' (the libskit "
            "wheel ships NIST ASD tables) or set EFTGAN_NIST_DIR to a folder with NIST exports"
        ) from None


def _files(source: Path) -> tuple[Path, Path]:
    lines = source / "nist_asd_lines_vacuum.csv"
    levels = source / "levels_processed.csv"
    for p in (lines, levels):
        if not p.is_file():
            raise UserError(
                f"{p} not found: the NIST data folder needs nist_asd_lines_vacuum.csv and "
                "levels_processed.csv (see spectral.atomic)"
            )
    return lines, levels


def _file_key(paths: Sequence[Path], elements: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(",".join(elements).encode())
    h.update(b"v6")
    return h.hexdigest()[:16]


#: The columns of a NIST ASD lines export that are read (others are ignored).
_NIST_LINE_COLUMNS = [
    "element",
    "sp_num",
    "obs_wl_vac(nm)",
    "ritz_wl_vac(nm)",
    "Aki(s^-1)",
    "Ei(eV)",
    "Ek(eV)",
    "g_i",
    "g_k",
    "intens",
    "intensity",
]


def _read_lines_csv(path: Path, elements: Sequence[str] | None) -> Any:
    """The lines export as a DataFrame, checked for its columns, of neutral and singly
    ionized species (of ``elements`` where given)."""
    import pandas as pd

    try:
        d = pd.read_csv(path, usecols=lambda c: c in _NIST_LINE_COLUMNS, low_memory=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"{path} is not a NIST ASD lines CSV export ({exc})") from None
    missing = {"element", "sp_num", "Ei(eV)", "Ek(eV)", "g_i", "g_k"} - set(d.columns)
    if missing:
        raise UserError(f"{path} lacks the columns {', '.join(sorted(missing))}")
    return d[d["sp_num"].isin(STAGES) & (d["element"].isin(elements) if elements else True)]


def _numeric(d: Any, name: str) -> np.ndarray:
    """Column ``name`` as float64 (NIST's marks such as ``[`` or ``*`` stripped; NaN where
    empty or absent)."""
    import pandas as pd

    if name not in d:
        return np.full(len(d), np.nan)
    s = d[name].astype(str).str.replace(r"[^0-9eE.+-]", "", regex=True)
    return pd.to_numeric(s, errors="coerce").to_numpy(np.float64, copy=True)


def _place_unclassified(
    el_a: np.ndarray,
    sp_a: np.ndarray,
    wl: np.ndarray,
    ei: np.ndarray,
    ek: np.ndarray,
    aki: np.ndarray,
) -> np.ndarray:
    """Unclassified lines (no levels) only for species with fewer than 20 lines of known A_ki:
    upper level at the median E_k of the species' classified lines (at least hc/lambda above
    the ground), see the module docstring; elsewhere they are dropped (``wl`` set to NaN).
    Fills ``ei``, ``ek`` in place; returns which lines are unclassified."""
    uncl = ~np.isfinite(ek) & np.isfinite(wl)
    for key in set(zip(el_a[uncl], sp_a[uncl], strict=True)):
        same = (el_a == key[0]) & (sp_a == key[1])
        if (same & np.isfinite(aki) & np.isfinite(ek)).sum() >= 20:
            wl[same & uncl] = np.nan
    uncl = ~np.isfinite(ek) & np.isfinite(wl)
    for key in set(zip(el_a[uncl], sp_a[uncl], strict=True)):
        same = (el_a == key[0]) & (sp_a == key[1])
        known_ek = ek[same & ~uncl & np.isfinite(ek)]
        both = (el_a == key[0]) & ~uncl & np.isfinite(ek)
        typical = (
            np.median(known_ek) if known_ek.size else (np.median(ek[both]) if both.any() else 0.0)
        )
        m = same & uncl
        ek[m] = np.maximum(typical, HC_EV_NM / wl[m])
        ei[m] = ek[m] - HC_EV_NM / wl[m]
    return uncl


def _read_lines(path: Path, elements: Sequence[str] | None) -> dict[str, np.ndarray]:
    d = _read_lines_csv(path, elements)
    wl = _numeric(d, "ritz_wl_vac(nm)")
    wl = np.where(np.isfinite(wl), wl, _numeric(d, "obs_wl_vac(nm)"))
    inten = _numeric(d, "intensity") if "intensity" in d else _numeric(d, "intens")
    ei, ek = _numeric(d, "Ei(eV)"), _numeric(d, "Ek(eV)")
    gi, gk = _numeric(d, "g_i"), _numeric(d, "g_k")
    el_a, sp_a = d["element"].to_numpy(str), d["sp_num"].to_numpy(np.int64)
    aki_raw = _numeric(d, "Aki(s^-1)")
    uncl = _place_unclassified(el_a, sp_a, wl, ei, ek, aki_raw)
    gi[uncl], gk[uncl] = 1.0, 1.0
    return {
        "element": d["element"].to_numpy(str),
        "sp_num": d["sp_num"].to_numpy(np.int64),
        "wl_vac": wl,
        "aki": np.where(uncl, np.nan, aki_raw),
        "ei": ei,
        "ek": ek,
        "gi": gi,
        "gk": gk,
        "intens": inten,
        "classified": ~uncl,
    }


def _read_levels(path: Path, elements: Sequence[str] | None) -> dict[tuple[str, int], np.ndarray]:
    import pandas as pd

    d = pd.read_csv(path)
    out: dict[tuple[str, int], np.ndarray] = {}
    roman = {"I": 1, "II": 2}
    for name, grp in d.groupby("Sp. Name"):
        el, _, st = str(name).partition(" ")
        if (elements is None or el in elements) and st in roman:
            g = pd.to_numeric(grp["g"], errors="coerce").to_numpy(np.float64)
            e = pd.to_numeric(grp["Level (eV)"], errors="coerce").to_numpy(np.float64)
            ok = np.isfinite(g) & np.isfinite(e)
            out[(el, roman[st])] = np.stack([g[ok], e[ok]])
    return out


def _fit_gA(
    lam: np.ndarray, ek: np.ndarray, gk: np.ndarray, inten: np.ndarray, aki: np.ndarray
) -> tuple[np.ndarray, float]:
    """``log10(gA) - log10(I lambda) = a + b E_k``: coefficients and RMS residual (decades)."""
    x = np.stack([np.ones(len(ek)), ek], 1)
    yv = np.log10(gk * aki) - np.log10(inten * lam)
    coef, *_ = np.linalg.lstsq(x, yv, rcond=None)
    if coef[1] <= 0:  # no Boltzmann slope to be had: a constant offset
        coef = np.array([np.median(yv), 0.0])
    return coef, float(np.sqrt(np.mean((x @ coef - yv) ** 2)))


def _estimate_aki(raw: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fill missing A_ki from NIST relative intensities (see the module docstring).

    The fit comes from the species itself when it has at least 8 lines with both values,
    else from both stages of the element together, else from all species of that stage
    pooled (most rare-earth intensities in NIST come from one arc source on one scale,
    Meggers, Corliss and Scribner, NBS Monograph 145).
    """
    aki = raw["aki"].copy()
    est = np.zeros(len(aki), dtype=bool)
    scatter: dict[tuple[str, int], float] = {}
    lam, ek, gk, inten = raw["wl_vac"], raw["ek"], raw["gk"], raw["intens"]
    usable = np.isfinite(lam) & np.isfinite(ek) & np.isfinite(gk) & (inten > 0)
    known = usable & np.isfinite(aki) & (aki > 0)
    el_arr, st_arr = raw["element"], raw["sp_num"]

    def fit(mask: np.ndarray) -> tuple[np.ndarray, float] | None:
        m = mask & known
        return _fit_gA(lam[m], ek[m], gk[m], inten[m], aki[m]) if m.sum() >= 8 else None

    pooled = {st: fit(st_arr == st) for st in STAGES}
    for el in np.unique(el_arr):
        for st in STAGES:
            todo = (el_arr == el) & (st_arr == st) & usable & ~(aki > 0)
            if not todo.any():
                continue
            f = fit((el_arr == el) & (st_arr == st)) or fit(el_arr == el) or pooled[st]
            if f is None:
                continue
            coef, rms = f
            log_ga = np.log10(inten[todo] * lam[todo]) + coef[0] + coef[1] * ek[todo]
            el_known = (el_arr == el) & known
            cap = np.log10((gk[el_known] * aki[el_known]).max()) if el_known.any() else 10.0
            aki[todo] = 10.0 ** np.clip(log_ga, 0, cap) / gk[todo]
            est[todo] = True
            scatter[(str(el), st)] = rms
    return aki, est, scatter


@cache
def _all_arrays(source: str) -> dict[str, np.ndarray]:
    """Processed lines and levels of every element of a NIST data folder (cached on disk)."""
    from eftgan.paths import eftgan_home

    src = Path(source)
    lines_path, levels_path = _files(src)
    key = _file_key([lines_path, levels_path], ())
    cache_file = eftgan_home() / "atomic" / f"nist-{key}.npz"
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    raw = _read_lines(lines_path, None)
    aki, est, scatter = _estimate_aki(raw)
    ok = (
        np.isfinite(raw["wl_vac"])
        & np.isfinite(aki)
        & (aki > 0)
        & np.isfinite(raw["ek"])
        & np.isfinite(raw["ei"])
        & (raw["gk"] > 0)
        & (raw["gi"] > 0)
    )
    keys = ("element", "sp_num", "wl_vac", "ei", "ek", "gi", "gk", "classified")
    arrays = {k: raw[k][ok] for k in keys}
    arrays["aki"], arrays["estimated"] = aki[ok], est[ok]
    arrays["scatter_keys"] = np.array([f"{e}:{s}" for e, s in scatter], dtype=str)
    arrays["scatter_vals"] = np.array(list(scatter.values()), dtype=np.float64)
    for (el, st), lv in _read_levels(levels_path, None).items():
        arrays[f"levels:{el}:{st}"] = lv
    from eftgan.files import atomic_writer

    with atomic_writer(cache_file) as tmp:
        np.savez(tmp, **arrays)
    return arrays


@cache
def _load_cached(source: str, elements: tuple[str, ...]) -> AtomicData:
    from eftgan.elements import element as registry

    src = Path(source)
    full = _all_arrays(source)
    sel = np.isin(full["element"], elements)
    arrays = {k: v[sel] for k, v in full.items() if not k.startswith(("levels:", "scatter_"))}
    arrays.update({k: v for k, v in full.items() if k.startswith(("levels:", "scatter_"))})
    lines = Lines(
        element=arrays["element"].astype(str),
        stage=arrays["sp_num"].astype(np.int64),
        wavelength=vacuum_to_air(arrays["wl_vac"]),
        aki=arrays["aki"],
        ei=arrays["ei"],
        ek=arrays["ek"],
        gi=arrays["gi"],
        gk=arrays["gk"],
        aki_estimated=arrays["estimated"].astype(bool),
        classified=arrays["classified"].astype(bool),
    )
    levels: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    ion = {el: registry(el).ionization_energies_ev[0] for el in elements}
    for el in elements:
        for st in STAGES:
            k = f"levels:{el}:{st}"
            if k not in arrays:  # a bare nucleus (H II) or a species NIST gives no levels of
                levels[(el, st)] = (np.ones(1), np.zeros(1))
                continue
            g, e = arrays[k]
            limit = ion[el] if st == 1 else registry(el).ionization_energies_ev[1]
            keep = e < limit if np.isfinite(limit) else np.isfinite(e)
            levels[(el, st)] = (g[keep], e[keep])
    scatter = {
        (k.split(":")[0], int(k.split(":")[1])): float(v)
        for k, v in zip(arrays["scatter_keys"], arrays["scatter_vals"], strict=True)
        if k.split(":")[0] in elements
    }
    return AtomicData(
        elements=elements,
        lines=lines,
        levels=levels,
        ionization_ev=ion,
        mass_u={el: registry(el).atomic_mass_u for el in elements},
        estimate_scatter=scatter,
        source=str(src),
    )


def load_atomic_data(
    elements: Sequence[str], source: str | os.PathLike[str] | None = None
) -> AtomicData:
    """Atomic data of ``elements`` (I and II) from libskit's NIST tables or a NIST export folder.

    The parsed tables are cached under ``$EFTGAN_HOME/atomic`` (NumPy ``.npz``, no pickle).
    """
    from eftgan.elements import canonical_symbol

    els = tuple(sorted({canonical_symbol(e) for e in elements}))
    src = Path(source) if source is not None else _default_source()
    if not src.is_dir():
        raise UserError(f"NIST data folder {src} does not exist")
    return _load_cached(str(src), els)
