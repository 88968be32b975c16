"""``eftgan serve``: the local browser app (:mod:`eftgan.serve`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True,
    help="Address to bind; any other than 127.0.0.1 exposes the app to the network.",
)  # fmt: skip
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="Where the app writes. [$EFTGAN_HOME/serve]")  # fmt: skip
@click.option(
    "--upload-limit-mb", default=10.0, show_default=True,
    type=click.FloatRange(0, 1024, min_open=True), help="A file's limit, in MiB.",
)  # fmt: skip
def serve(host: str, port: int, workdir: Path | None, upload_limit_mb: float) -> None:
    """Explore maps, run the design loop and predict structures in the browser."""
    import importlib.util

    from eftgan.errors import UserError
    from eftgan.paths import eftgan_home
    from eftgan.serve import create_app

    if importlib.util.find_spec("dash") is None:
        raise UserError("eftgan serve needs Dash: pip install 'eftgan[serve]'")
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not loopback:
        click.echo(f"warning: --host {host} makes the app reachable from the network", err=True)
    limit = int(upload_limit_mb * 1024 * 1024)
    app = create_app(workdir or eftgan_home() / "serve", limit, loopback)
    click.echo(f"eftgan serve: http://{host}:{port}/ (Ctrl-C stops it)")
    app.run(host=host, port=port, debug=False)
