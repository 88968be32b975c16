"""``eftgan models``: the shipped models, their training data, size and headline figure."""

from __future__ import annotations

import click
from eftgan_cli.main import echo_json, echo_table


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.4g} {unit}".rstrip()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def models(as_json: bool) -> None:
    """List the shipped models: kind, training data, size and headline figure.

    A star marks the default model of each kind, the one the commands use without --model.
    The figures' sources are listed under the table.
    """
    from eftgan.catalog import shipped_models

    found = shipped_models()
    if as_json:
        echo_json([m.as_dict() for m in found])
        return
    rows = [
        {
            "model": m.name + (" *" if m.default else ""),
            "kind": m.kind,
            "MB": f"{m.size_mb:.1f}",
            "headline": f"{m.metric} {_figure(m.value, m.unit)}" if m.metric else "-",
            "trained on": m.training_data,
        }
        for m in found
    ]
    echo_table(rows, ["model", "kind", "MB", "headline", "trained on"])
    click.echo("\n* default of its kind. Figures from:")
    for m in found:
        click.echo(f"  {m.name}: {m.source}")
