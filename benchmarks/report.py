"""Write the benchmark tables into README.md from benchmarks/results/*.json.

python benchmarks/report.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS

UNITS = {"eform": "eV/atom", "emix": "eV/atom", "ms": "μB/atom", "v0": "Å³/atom"}


def cell(m: dict[str, Any] | None, key: str = "mae") -> str:
    if not m:
        return "n/a"
    std = m.get(f"{key}_std")
    return f"{m[key]:.4f} ± {std:.4f}" if std is not None else f"{m[key]:.4f}"


def verdicts(r: dict[str, Any]) -> list[str]:
    out = []

    def judge(label: str, value: float, anchor: float) -> None:
        word = "met" if value <= anchor else "missed"
        out.append(f"{label}: {value:.4f} against {anchor} ({word})")

    a = r["anchors"]
    for phase in ("fcc", "bcc"):
        for t, anchor in a["ecnet_paper_random_mae"][phase].items():
            judge(f"{t} MAE {phase}, random splits", r["random"][phase][t]["mae"], anchor)
    for phase in ("fcc", "bcc"):
        for t, anchor in a["cluster_expansion_quaternary_quinary_rmse"].items():
            judge(
                f"{t} RMSE {phase}, quaternary + quinary",
                r["quaternary_quinary"][phase][t]["rmse"],
                anchor,
            )
    for phase, per in a["ecnet_paper_learning_curve_0.2_mae"].items():
        for t, anchor in per.items():
            judge(
                f"{t} MAE {phase} at 20 % data", r["learning_curve"]["0.2"][phase][t]["mae"], anchor
            )
    return out


def ecnet_section(r: dict[str, Any]) -> str:
    s = r["settings"]
    base = {k: v for k, v in r["baselines"].items() if isinstance(v, dict)}
    names = ["ECNet", *base]
    lines = [
        "## ECNet accuracy (measured)",
        "",
        f"From `python benchmarks/ecnet_accuracy.py` (results in "
        f"`benchmarks/results/ecnet_accuracy.json`), on {r['machine']}. Shared dataset, "
        f"{s['entries_used']} entries ({s['flagged_excluded']} flagged ones excluded); random "
        f"80/10/10 splits by composition, {s['seeds']} seeds; mean ± standard deviation over "
        f"seeds. Baselines are fitted on train + validation.",
        "",
        "**Test MAE, random splits**",
        "",
        "| phase | target | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for phase in ("fcc", "bcc"):
        for t, unit in UNITS.items():
            row = [cell(r["random"][phase].get(t))]
            row += [cell(base[b].get(phase, {}).get(t)) for b in base]
            lines.append(f"| {phase} | {t} ({unit}) | " + " | ".join(row) + " |")
    a = r["anchors"]["ecnet_paper_random_mae"]
    lines += [
        "",
        f"Published anchors (ECNet repository, 5 seeds, all entries): Eform MAE fcc "
        f"{a['fcc']['eform']}, bcc {a['bcc']['eform']} eV/atom; Ms MAE fcc {a['fcc']['ms']}, "
        f"bcc {a['bcc']['ms']} μB/atom.",
        "",
        "**Quaternary + quinary test entries (RMSE)** against the cluster-expansion transfer "
        "model's Eform RMSE 0.008 eV/atom and Ms RMSE 0.090 μB/atom:",
        "",
        "| phase | Eform RMSE | Ms RMSE | n per seed |",
        "|---|---|---|---|",
    ]
    for phase in ("fcc", "bcc"):
        q = r["quaternary_quinary"][phase]
        lines.append(
            f"| {phase} | {cell(q.get('eform'), 'rmse')} | {cell(q.get('ms'), 'rmse')} | "
            f"{q.get('eform', {}).get('n_per_seed', 0)} |"
        )
    lines += [
        "",
        f"**Extrapolation to quinaries** (train on binaries to quaternaries, test on all "
        f"quinaries; {s['extrapolation_seeds']} seeds), MAE:",
        "",
    ]
    bq = r["baselines_quinary_extrapolation"]
    lines += [
        "| phase | target | ECNet | " + " | ".join(bq) + " |",
        "|---|---|---|" + "---|" * len(bq),
    ]
    for phase in ("fcc", "bcc"):
        for t, unit in UNITS.items():
            row = [cell(r["quinary_extrapolation"][phase].get(t))]
            row += [cell(bq[b].get(phase, {}).get(t)) for b in bq]
            lines.append(f"| {phase} | {t} ({unit}) | " + " | ".join(row) + " |")
    lines += [
        "",
        f"**Learning curve**, Eform MAE (eV/atom), ECNet vs ridge; {s['curve_seeds']} seeds "
        "below 100 %. Anchors at 20 %: fcc 0.020, bcc 0.025.",
        "",
        "| training data | ECNet fcc | ECNet bcc | ridge fcc | ridge bcc |",
        "|---|---|---|---|---|",
    ]
    for f in ("0.2", "0.4", "0.6", "0.8", "1.0"):
        lc = r["learning_curve"][f]
        rb = (
            r["baselines_learning_curve"][f]["ridge_quadratic_composition"]
            if f != "1.0"
            else base["ridge_quadratic_composition"]
        )
        cells = [cell(x[p]["eform"]) for x in (lc, rb) for p in ("fcc", "bcc")]
        lines.append(f"| {int(float(f) * 100)} % | " + " | ".join(cells) + " |")
    lines += [
        "",
        "**Against the published anchors** (mean over seeds; met when not above the anchor):",
        "",
    ]
    lines += [f"- {v}" for v in verdicts(r)]
    sp = r["speed"]
    lines += [
        "",
        "**Speed** (2 threads, batch 32, default model, median of 5 passes over 64 cells): "
        f"{sp['structures_per_s_32_atoms']:.0f} structures/s on 32-atom cells, "
        f"{sp['structures_per_s_160_atoms']:.0f} structures/s on 160-atom cells; training the "
        f"default model took {sp.get('default_model_training_wall_s', float('nan')):.0f} s "
        f"({sp.get('default_model_epochs', '?')} epochs).",
    ]
    if "chgnet_structures_per_s_32_atoms" in sp:
        lines.append(
            f"CHGNet (batch 8) on the same cells and threads: "
            f"{sp['chgnet_structures_per_s_32_atoms']:.1f} "
            f"and {sp['chgnet_structures_per_s_160_atoms']:.1f} structures/s."
        )
    chg = r["baselines"].get("chgnet_zero_shot_refit_references")
    if isinstance(chg, str):
        lines += ["", f"CHGNet zero-shot: {chg}."]
    return "\n".join(lines)


def eftgan_section(r: dict[str, Any]) -> str:
    st = r["settings"]
    lines = [
        "## EFTGAN (measured)",
        "",
        f"From `python benchmarks/eftgan_benchmark.py` (`benchmarks/results/eftgan.json`), on "
        f"{r['machine']}. Scores: MAE on the {r['structure_free']['n_test_structures']} test "
        "structures of the shipped ECNet, whose compositions no stage ever saw.",
        "",
        f"**Augmentation ablation**, Eform MAE (eV/atom), {st['seeds']} seeds, "
        f"{st['rounds']} rounds of {st['n_aug']} generated samples, GAN {st['gan_steps']} steps:",
        "",
        "| training data | real only | real + augmented | change |",
        "|---|---|---|---|",
    ]
    for f, a in r["augmentation"].items():
        real = f"{a['real_only_mae']:.4f} ± {a['real_only_mae_std']:.4f}"
        aug = f"{a['augmented_mae']:.4f} ± {a['augmented_mae_std']:.4f}"
        pct = a["relative_change_pct"]
        lines.append(f"| {int(float(f) * 100)} % | {real} | {aug} | {pct:+.1f} % |")
    g20 = r["augmentation"]["0.2"]["relative_change_pct"]
    verdict = "met" if g20 <= -15 else "missed"
    lines += [
        "",
        f"Goal: at least 15 % lower Eform MAE at 20 % data: {g20:+.1f} % ({verdict}).",
        "",
    ]
    sf = r["structure_free"]
    lines += [
        f"**Structure-free prediction** (generator + MLP from composition alone, "
        f"{sf['gan_seeds']} GAN seeds) beside the structure-based ECNet and the ridge, MAE:",
        "",
        "| model | Eform (eV/atom) | Emix (eV/atom) | Ms (μB/atom) | V0 (Å³/atom) |",
        "|---|---|---|---|---|",
    ]
    for name, key in (
        ("EFTGAN generator + MLP (composition only)", "eftgan_generator_mlp"),
        ("ECNet (relaxed structure)", "ecnet_structure_based"),
        ("ridge, quadratic composition", "ridge_quadratic_composition"),
    ):
        m = sf[key]
        lines.append(f"| {name} | " + " | ".join(f"{m[t]:.4f}" for t in UNITS) + " |")
    sanity = RESULTS / "eftgan_sanity.json"
    if sanity.is_file():
        lines += [
            "",
            "**Physics sanity** (`python benchmarks/eftgan_sanity.py`): equiatomic alloys, "
            "composition-only prediction (64 draws) beside the dataset's DFT entry:",
            "",
            "| alloy | phase | Eform pred / DFT | E(bcc)-E(fcc) pred / DFT | a (Å) pred / DFT "
            "| Ms (μB/atom) pred / DFT | DFT entry |",
            "|---|---|---|---|---|---|---|",
        ]
        for x in json.loads(sanity.read_text())["rows"]:
            note = x["dft_entry_split"] + (f", flagged: {', '.join(x['dft_entry_flags'])}"
                                           if x["dft_entry_flags"] else "")  # fmt: skip
            lines.append(
                f"| {x['alloy']} | {x['phase']} | {x['eform_pred']:.3f} / {x['eform_dft']:.3f} | "
                f"{x['delta_e_bcc_fcc_pred']:+.3f} / {x['delta_e_bcc_fcc_dft']:+.3f} | "
                f"{x['a_pred']:.3f} / {x['a_dft']:.3f} | {x['ms_pred']:.2f} / {x['ms_dft']:.2f} "
                f"| {note} |"
            )
    sp = r["speed"]
    lines += [
        "",
        f"**Speed**: {sp['compositions_per_s']:.0f} compositions per second per phase "
        f"({sp['n_z']} noise draws each, {sp['threads']} threads); `eftgan explore --elements "
        f"Fe,Ni,Co,Cr,Mn` at step 0.05 (10,626 compositions x 2 phases, maps included) takes "
        f"{sp.get('explore_step005_wall_s', float('nan')):.1f} s end to end (median of 3, "
        "start-up included; goal 10 s). Step 0.01 (4,598,126 compositions x 2 phases): "
        + (
            f"{sp['explore_step001_wall_s'] / 60:.1f} min, peak RSS "
            f"{sp['explore_step001_peak_rss_mb']:.0f} MB (goal: under 2 GB)."
            if isinstance(sp["explore_step001_wall_s"], float)
            else f"{sp['explore_step001_wall_s']}."
        ),
    ]
    return "\n".join(lines)


def replace_section(text: str, tag: str, body: str) -> str:
    pattern = rf"<!-- {tag}:start -->.*<!-- {tag}:end -->"
    return re.sub(
        pattern, lambda _: f"<!-- {tag}:start -->\n{body}\n<!-- {tag}:end -->", text, flags=re.S
    )


def main() -> None:
    readme = REPO / "README.md"
    text = readme.read_text()
    for tag, name, make in (
        ("ecnet-accuracy", "ecnet_accuracy.json", ecnet_section),
        ("eftgan", "eftgan.json", eftgan_section),
    ):
        path = RESULTS / name
        if path.is_file():
            text = replace_section(text, tag, make(json.loads(path.read_text())))
    readme.write_text(text)
    print("README.md updated")


if __name__ == "__main__":
    main()
