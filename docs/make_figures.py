"""Make the README's pictures in docs/img/ from the shipped models and the measured spectra.

    python docs/make_figures.py            # all eight, about two minutes on two cores
    python docs/make_figures.py spectrum   # one of: map, spectrum, cflibs, micrographs, super1,
                                           # polycrystal, segmentation, serve

- ``map.png``: the bcc-fcc phase-preference map that ``eftgan explore --elements
  Fe,Ni,Co,Cr,Mn`` draws with the shipped EFTGAN model.
- ``spectrum_fit.png``: a simulated steel spectrum (known composition) and the measured pure-Fe
  LIBS spectrum of ``../shared/reference/libs_aalto`` (where it is present), each with the LTE
  model that ``eftgan spectral analyze --refine`` fits to it, started from the shipped SACA.
- ``cflibs_fe.png``: the measured pure-Fe spectrum with the model that ``eftgan spectral
  analyze --method cflibs`` fits to it over ten candidate metals.
- ``super1.png``: real crops of the Super1 superalloy test micrographs beside images of the
  default GAN and of the paper's DCGAN trained on the train micrographs (the models that
  ``benchmarks/microstructure_real.py`` trains), and a 256 x 256 field of the default GAN
  beside a real one.
- ``micrographs.png``: 64 x 64 crops of synthetic Al-Si micrographs (``eftgan micro synth``,
  the kind of image the DCGAN was trained on) above images that the shipped conditional DCGAN
  generates for the same Si contents (``eftgan micro generate``).

- ``polycrystal.png``: a grain map of ``eftgan micro grains simulate`` (256 x 256, 300
  grains, 2000 steps, misorientation-dependent), its optical and SEM-like renderings by
  ``eftgan micro grains render`` and their exact boundary mask.
- ``segmentation.png``: a rendered polycrystal micrograph of a grain map never used in
  training, the boundaries that ``eftgan micro segment`` finds in it with the shipped U-Net
  and the true ones; below, a real Super1 test micrograph, the phases that the shipped phase
  U-Net finds and the hand annotation.
- ``serve_explore.png``, ``serve_design.png``, ``serve_predict.png``: the three tabs of
  ``eftgan serve`` in headless Chromium, the design tab after a suggestion from BOXVIA's
  2-D sample and the predict tab after the three example structures.

The pictures are written as small palette PNGs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"
MEASURED = REPO.parent / "shared" / "reference" / "libs_aalto" / "Fe_spectrum.csv"
EFTGAN = str(Path(sys.executable).with_name("eftgan"))

#: The simulated spectrum: an austenitic stainless steel with two rare earths (wt %).
STEEL_WT_PCT = {"Cr": 18.0, "Ni": 10.0, "Mo": 2.0, "Mn": 1.5, "Ce": 0.05, "Nd": 0.03}
#: The window shown (nm): Cr I 425-429 nm, Fe I, Ni I and Nd II lines.
WINDOW_NM = (424.0, 434.0)
#: The window of the cflibs picture (nm): Fe I lines of several multiplets.
CFLIBS_WINDOW_NM = (370.0, 390.0)


def save_small(fig: object, path: Path, dpi: int = 110, colors: int = 64) -> None:
    """Save a matplotlib figure as a palette PNG (a fraction of the RGB file's size)."""
    from PIL import Image

    tmp = path.with_suffix(".rgb.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")  # type: ignore[attr-defined]
    Image.open(tmp).convert("RGB").quantize(colors).save(path, optimize=True)
    tmp.unlink()


def composition_map() -> None:
    """The phase-preference map of ``eftgan explore`` on the shipped EFTGAN model."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "explore"
        cmd = [EFTGAN, "explore", "--elements", "Fe,Ni,Co,Cr,Mn", "--out", str(out)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        image = Image.open(out / "map_phase.png").convert("RGB")
        image.thumbnail((560, 560))
        image.quantize(128).save(IMG / "map.png", optimize=True)


def fitted_model(sim: object, counts: np.ndarray, fit: object) -> np.ndarray:
    """The fitted model's counts: the LTE spectrum at the fitted composition, temperature,
    density and shift, times the response polynomial plus the baseline that fit it best
    (the linear parameters that :func:`spectral.refine.refine` solves at every step)."""
    from spectral.instrument import Conditions
    from spectral.refine import RESPONSE_DEGREE

    n = len(counts)
    zero, one = np.zeros(n), np.ones(n)
    cond = Conditions(fit.temperature_k, fit.ne_cm3, fit.shift_nm, zero, one, one, zero)  # type: ignore[attr-defined]
    s = sim.detected(fit.wt_pct, cond).double().numpy()  # type: ignore[attr-defined]
    t = sim.tilt.double().numpy()  # type: ignore[attr-defined]
    models = []
    for y, si in zip(counts, s, strict=True):
        si = si / si.mean()
        x = np.column_stack([si * t**k for k in range(RESPONSE_DEGREE + 1)] + [np.ones_like(t), t])
        w = 1.0 / (np.clip(y - y.min(), 0, None) + sim.instrument.read_noise**2)  # type: ignore[attr-defined]
        coef = np.linalg.lstsq(x * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
        models.append(x @ coef)
    return np.array(models)


def spectra() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Titles, counts on the model's grid, and the grid: the simulated steel, and the measured
    pure-Fe spectrum where ``../shared`` holds it."""
    from spectral.analyze import model_grid
    from spectral.dataset import simulator
    from spectral.instrument import Conditions
    from spectral.predict import load_saca

    _, config = load_saca()
    sim = simulator(config["model"]["instrument"])
    wt = np.array([[STEEL_WT_PCT.get(el, 0.0) for el in sim.elements]])
    wt[0, 0] = 100.0 - wt.sum()
    cond = Conditions.fixed(1, temperature_k=9500.0, ne_cm3=1.3e17)
    counts = sim.simulate(wt, cond, np.random.default_rng(0))
    titles = ["simulated steel (Fe-18Cr-10Ni-2Mo-1.5Mn, 0.05 Ce, 0.03 Nd; 9500 K)"]
    grid = model_grid(config)
    if MEASURED.is_file():
        from spectral.atomic import vacuum_to_air
        from spectral.io import Spectrum, read_spectrum, resample

        m = read_spectrum(MEASURED)
        m = Spectrum(vacuum_to_air(m.wavelength), m.intensity, m.source, m.meta)
        counts = np.vstack([counts, resample(m, grid)[None, :]])
        titles.append("measured pure Fe (libs_aalto, vacuum wavelengths converted to air)")
    return titles, counts.astype(np.float32), grid


def spectrum_fit() -> None:
    """SACA and the LTE fit on a simulated steel and on the measured pure-Fe spectrum."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spectral.dataset import simulator
    from spectral.predict import load_saca, predict
    from spectral.refine import refine

    titles, counts, grid = spectra()
    model, config = load_saca()
    sim = simulator(config["model"]["instrument"])
    wt_saca, _ = predict(model, counts)
    fit = refine(sim, counts, wt_saca)
    curves = fitted_model(sim, counts, fit)
    inside = (grid >= WINDOW_NM[0]) & (grid <= WINDOW_NM[1])
    fig, axes = plt.subplots(len(counts), 1, figsize=(8, 2.6 * len(counts)), squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(grid[inside], counts[i, inside], color="0.2", lw=1.0, label="spectrum")
        ax.plot(grid[inside], curves[i, inside], color="tab:red", lw=0.9, label="fitted LTE model")
        top = ", ".join(
            f"{el} {v:.1f}"
            for el, v in sorted(zip(sim.elements, fit.wt_pct[i], strict=True), key=lambda p: -p[1])[
                :3
            ]
        )
        ax.set_title(
            f"{titles[i]}\nfit: {top} wt %, {fit.temperature_k[i]:.0f} K, cost {fit.cost[i]:.2g}",
            fontsize=8.5,
        )
        ax.set_ylabel("counts")
        ax.legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("wavelength in air (nm)")
    fig.tight_layout()
    save_small(fig, IMG / "spectrum_fit.png")
    for t, f in zip(titles, fit.cost, strict=True):
        print(f"{t}: fit cost {f:.3g}")


def cflibs_fit() -> None:
    """``analyze --method cflibs`` on the measured pure-Fe spectrum: the whole range and a
    window, the fit in red, its composition and cost in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spectral.cflibs import fit_cflibs
    from spectral.io import read_spectrum

    metals = ["Fe", "Ni", "Cr", "Mn", "Co", "Cu", "Ti", "V", "Mo", "Al"]
    res = fit_cflibs(read_spectrum(MEASURED, clip_negative=True), metals, ("O", "N", "H"))
    top = sorted(zip(res.elements, res.wt_pct, strict=True), key=lambda p: -p[1])[:3]
    fig, axes = plt.subplots(2, 1, figsize=(8, 5.2))
    for ax, lo_hi in zip(axes, [None, CFLIBS_WINDOW_NM], strict=True):
        keep = np.ones(len(res.wavelength), bool)
        if lo_hi is not None:
            keep = (res.wavelength >= lo_hi[0]) & (res.wavelength <= lo_hi[1])
        ax.plot(res.wavelength[keep], res.intensity[keep], color="0.2", lw=0.7, label="spectrum")
        ax.plot(res.wavelength[keep], res.model[keep], color="tab:red", lw=0.7, label="fit")
        ax.set_ylabel("counts")
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_title(
        "measured pure Fe (Aalto), --method cflibs over ten metals: "
        + ", ".join(f"{e} {w:.1f}" for e, w in top)
        + f" wt %, {res.temperature_k:.0f} K, cost {res.cost:.2f}",
        fontsize=8.5,
    )
    axes[1].set_xlabel("wavelength in air (nm)")
    fig.tight_layout()
    save_small(fig, IMG / "cflibs_fe.png")
    print(f"cflibs on pure Fe: {top}, cost {res.cost:.3g}")


def micrographs() -> None:
    """Synthetic micrographs above generated ones, at Si 4, 7 and 10 wt %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    si = (4, 7, 10)
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.3))
    with tempfile.TemporaryDirectory() as tmp:
        for j, x in enumerate(si):
            real, fake = Path(tmp) / f"real{x}", Path(tmp) / f"gen{x}"
            synth = ["micro", "synth", "--si", str(x), "--n", "2", "--size", "256", "--out"]
            gen = ["micro", "generate", "--n", "2", "--si", str(x), "--out"]
            subprocess.run([EFTGAN, *synth, str(real)], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([EFTGAN, *gen, str(fake)], check=True, stdout=subprocess.DEVNULL)
            images = [sorted(real.glob("*.png")), sorted(fake.glob("gen_*.png"))]
            for row in (0, 1):
                for k in (0, 1):
                    ax = axes[row, 2 * j + k]
                    pixels = np.asarray(Image.open(images[row][k]).convert("L"))[:64, :64]
                    ax.imshow(pixels, cmap="gray", vmin=0, vmax=255)
                    ax.set_xticks([])
                    ax.set_yticks([])
            axes[0, 2 * j].set_title(f"Al-{x}Si", fontsize=9, loc="left")
    axes[0, 0].set_ylabel("synthetic", fontsize=9)
    axes[1, 0].set_ylabel("generated", fontsize=9)
    fig.tight_layout()
    save_small(fig, IMG / "micrographs.png", dpi=80, colors=32)


def super1() -> None:
    """Real Super1 test crops, then the default GAN's and the paper DCGAN's images; below, a
    256-pixel real field and one of the default GAN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from microstructure.generate import generate_images, load_generator
    from microstructure.images import random_crops, read_folder

    models = REPO / "benchmarks" / ".cache" / "micro_real" / "models" / "iters600"
    data = REPO / "benchmarks" / ".cache" / "micro_real" / "data" / "test"
    if not (models / "default" / "config.json").is_file():
        raise SystemExit("run benchmarks/microstructure_real.py first (it trains the models)")
    rng = np.random.default_rng(0)
    test = read_folder(data)
    rows = {"real (test)": random_crops(test, 6, 64, rng)[:, 0]}
    g, _ = load_generator(models / "default")
    rows["default GAN"] = generate_images(g, 6, seed=1)
    rows["paper DCGAN"] = generate_images(load_generator(models / "paper")[0], 6, seed=1)
    fig = plt.figure(figsize=(9, 7.2))
    grid = fig.add_gridspec(5, 6, height_ratios=[1, 1, 1, 0.15, 3])
    for i, (name, imgs) in enumerate(rows.items()):
        for k in range(6):
            ax = fig.add_subplot(grid[i, k])
            ax.imshow(imgs[k], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.axes[-6].set_ylabel(name, fontsize=8)
    big = {"real, 256 px": random_crops(test, 1, 256, rng)[0, 0],
           "default GAN, 256 px field": generate_images(g, 1, seed=2, size=256)[0]}  # fmt: skip
    for j, (name, img) in enumerate(big.items()):
        ax = fig.add_subplot(grid[4, 3 * j : 3 * j + 3])
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    save_small(fig, IMG / "super1.png", dpi=80, colors=48)


def polycrystal() -> None:
    """A simulated grain map (``micro grains simulate``), its optical and SEM-like renderings
    (``micro grains render``) and the exact boundary mask."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        run, looks = Path(tmp) / "run", {}
        sim = ["micro", "grains", "simulate", "--size", "256", "--grains", "300", "--steps"]
        sim += ["2000", "--anisotropy", "0.4", "--quiet", "--out", str(run)]
        subprocess.run([EFTGAN, *sim], check=True, stdout=subprocess.DEVNULL)
        for style in ("optical", "sem"):
            cmd = ["micro", "grains", "render", str(run), "--style", style, "--seed", "3"]
            subprocess.run([EFTGAN, *cmd, "--out", str(Path(tmp) / style)], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            looks[style] = np.asarray(Image.open(Path(tmp) / style / "grains_002000.png"))
        labels = np.asarray(Image.open(run / "grains_002000.png")).astype(int)
        mask = np.asarray(Image.open(Path(tmp) / "optical" / "grains_002000_boundaries.png"))
    panels = {
        "phase-field grains (ids)": (np.random.default_rng(0).permutation(300)[labels], "tab20"),
        "rendered: optical": (looks["optical"], "gray"),
        "rendered: SEM-like": (looks["sem"], "gray"),
        "boundary mask (truth)": (mask, "gray"),
    }
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
    for ax, (name, (img, cmap)) in zip(axes, panels.items(), strict=True):
        ax.imshow(img, cmap=cmap, interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save_small(fig, IMG / "polycrystal.png", dpi=90, colors=64)


def _segment(image: np.ndarray, tmp: Path, *extra: str) -> Path:
    """Run ``eftgan micro segment`` on one image; returns its output folder."""
    from microstructure.images import write_png

    write_png(tmp / "a.png", image)
    cmd = [EFTGAN, "micro", "segment", str(tmp / "a.png"), "--out", str(tmp / "out"), *extra]
    subprocess.run([*cmd, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    return tmp / "out"


def segmentation() -> None:
    """Grain boundaries of a rendered micrograph and phases of a real one, found and true."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from microstructure.polycrystal import boundary_mask, draw_look, render
    from microstructure.segment import relaxed_grain_map

    rng = np.random.default_rng(2027)
    labels = relaxed_grain_map(rng, 384)
    img, _ = render(labels, draw_look(rng, "optical"), rng)
    s1 = REPO.parent / "shared" / "reference" / "micrographs_super1"
    phases = REPO / "data" / "models" / "unet-phases-super1-v1"
    with tempfile.TemporaryDirectory() as tmp:
        found = np.asarray(Image.open(_segment(img, Path(tmp)) / "a_boundaries.png"))
        rows = [("rendered micrograph", img, "gray"), ("U-Net boundaries", found, "gray"),
                ("true boundaries", boundary_mask(labels), "gray")]  # fmt: skip
        if s1.is_dir():
            real = np.asarray(Image.open(s1 / "test" / "spot2_0d_0.png")) / 255.0
            out = _segment(real, Path(tmp) / "p", "--model", str(phases))
            rows += [("Super1 test micrograph (real)", real, "gray"),
                     ("U-Net phases", np.asarray(Image.open(out / "a_phases.png")), "viridis"),
                     ("hand annotation", np.asarray(Image.open(
                         s1 / "test_annot" / "spot2_0d_0_mask.png")), "viridis")]  # fmt: skip
    fig, axes = plt.subplots(len(rows) // 3, 3, figsize=(8, 2.8 * len(rows) // 3), squeeze=False)
    for ax, (name, a, cmap) in zip(axes.ravel(), rows, strict=True):
        ax.imshow(a, cmap=cmap, interpolation="nearest", vmin=0, vmax=max(1, int(a.max())))
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save_small(fig, IMG / "segmentation.png", dpi=90, colors=64)


def serve() -> None:
    """Screenshots of the three tabs of ``eftgan serve`` (needs chromium and chromedriver)."""
    import shutil
    import socket
    import threading
    import time

    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from eftgan.serve import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = Path(tempfile.mkdtemp())
    app = create_app(tmp / "work")
    threading.Thread(target=app.run, kwargs={"port": port}, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1100,900"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        time.sleep(3)
        drv.get(f"http://127.0.0.1:{port}/")
        time.sleep(15)
        drv.save_screenshot(str(tmp / "explore.png"))
        drv.find_element(By.XPATH, "//*[contains(text(), 'Design')]").click()
        time.sleep(1)
        sample = REPO.parent / "shared" / "reference" / "boxvia_samples" / "sample_d2.csv"
        space = '{"variables": [{"name": "x1", "low": -5, "high": 5}, {"name": "x2", "low": -5, "high": 5}], "objective": {"name": "y"}}'  # noqa: E501
        drv.find_element(By.CSS_SELECTOR, "#observed input[type=file]").send_keys(str(sample))
        from selenium.webdriver.common.keys import Keys

        area = drv.find_element(By.ID, "space")
        area.send_keys(Keys.CONTROL, "a")
        area.send_keys(Keys.DELETE)
        area.send_keys(space)
        drv.find_element(By.ID, "suggest").click()
        time.sleep(15)
        drv.save_screenshot(str(tmp / "design.png"))
        drv.find_element(By.XPATH, "//*[contains(text(), 'Predict')]").click()
        time.sleep(1)
        files = "\n".join(str(p) for p in sorted((REPO / "data" / "examples").glob("*.[vc]*")))
        drv.find_element(By.CSS_SELECTOR, "#structures input[type=file]").send_keys(files)
        time.sleep(15)
        drv.save_screenshot(str(tmp / "predict.png"))
    finally:
        drv.quit()
    for name in ("explore", "design", "predict"):
        img = Image.open(tmp / f"{name}.png").convert("RGB")
        img.quantize(64).save(IMG / f"serve_{name}.png", optimize=True)


FIGURES = {
    "map": composition_map,
    "spectrum": spectrum_fit,
    "cflibs": cflibs_fit,
    "micrographs": micrographs,
    "super1": super1,
    "polycrystal": polycrystal,
    "segmentation": segmentation,
    "serve": serve,
}

if __name__ == "__main__":
    IMG.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or list(FIGURES):
        FIGURES[name]()
        print(f"{name} written")
