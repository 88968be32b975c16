"""Entry point of the ``eftgan`` command: a click group whose subcommands import lazily.

User errors (:class:`eftgan.errors.UserError`, click usage errors) print one line to stderr and
exit with code 2; ``--debug``, anywhere on the command line, shows the traceback of a
:class:`~eftgan.errors.UserError` instead.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

# name -> "module:attribute", imported only when the subcommand is used (fast --help)
LAZY_COMMANDS = {
    "data": "eftgan_cli.data_cmd:data",
    "train": "eftgan_cli.train_cmd:train",
    "predict": "eftgan_cli.predict_cmd:predict",
    "explore": "eftgan_cli.explore_cmd:explore",
    "models": "eftgan_cli.models_cmd:models",
    "spectral": "eftgan_cli.spectral_cmd:spectral",
    "micro": "eftgan_cli.micro_cmd:micro",
    "design": "eftgan_cli.design_cmd:design",
    "serve": "eftgan_cli.serve_cmd:serve",
}


class LazyGroup(click.Group):
    """A click group whose subcommands (:data:`LAZY_COMMANDS`) are imported when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names of the eager and lazy subcommands, sorted (without importing any)."""
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand ``cmd_name``, importing its module if it is lazy; None if unknown."""
        if cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="eftgan")
def cli(debug: bool) -> None:
    """eftgan: machine learning for alloys (ECNet/EFTGAN for high-entropy alloys)."""


class ModelFolder(click.ParamType):
    """A ``--model`` value: a model folder's path, or the name of a shipped model (the names
    ``eftgan models`` lists), which stands for its folder under ``data/models``."""

    name = "folder"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from pathlib import Path

        from eftgan.paths import shipped_models_dir

        path = Path(value)
        if not path.exists() and len(path.parts) == 1:
            shipped = shipped_models_dir() / path
            if shipped.is_dir():
                return shipped
        return path


def device_option(default: str = "cpu", help: str = "Where the networks run.") -> Any:
    """The ``--device cpu|cuda|auto`` option every command that runs a network takes
    (read by :func:`eftgan.devices.resolve_device`)."""
    return click.option(
        "--device",
        type=click.Choice(["cpu", "cuda", "auto"]),
        default=default,
        show_default=True,
        help=help + " auto: a CUDA GPU where torch sees one.",
    )


def main(argv: list[str] | None = None) -> None:
    """Run the ``eftgan`` command with ``argv`` (default: the process's arguments) and exit:
    0 on success, 2 with one line on stderr for a user error (``--debug``: the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = args[: args.index("--")] if "--" in args else args
    debug = "--debug" in options  # taken anywhere before "--", where a user adds it last
    if debug:
        args.remove("--debug")
        args.insert(0, "--debug")
    try:
        cli.main(args=args, prog_name="eftgan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo(
            "aborted; a training run goes on from its last checkpoint when the same command "
            "is run again",
            err=True,
        )
        sys.exit(1)
    except click.ClickException as exc:  # a usage error: its traceback would say nothing
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        from eftgan.errors import UserError

        if debug or not isinstance(exc, UserError):
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    sys.exit(0)


def echo_json(payload: Any) -> None:
    """Print ``payload`` as strict JSON: a number that is not one (NaN, infinite) as null,
    which every JSON parser reads (``NaN`` is Python's extension, refused by others)."""
    import json
    import math

    def strict(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: strict(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [strict(x) for x in v]
        return v

    def plain(v: Any) -> Any:  # NumPy scalars and arrays
        return strict(v.tolist() if hasattr(v, "tolist") else v.item())

    click.echo(json.dumps(strict(payload), indent=1, allow_nan=False, default=plain))


def echo_table(rows: list[dict[str, Any]], columns: list[str], floats: str = "{:.4f}") -> None:
    """Print rows as an aligned text table."""

    def fmt(v: Any) -> str:
        return floats.format(v) if isinstance(v, float) else str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    main()
