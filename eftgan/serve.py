"""``eftgan serve``: the maps, the design loop and prediction in a local browser app (Dash).

Three tabs:

- **Explore**: a ternary map of any target and phase of three elements, computed live by
  the shipped EFTGAN (grid step 0.02 or coarser), with hover values;
- **Design**: upload ``observed.csv``, edit the space (``space.json`` text), see the
  suggested batch with the model's mean, std and acquisition, and download ``next.csv``;
- **Predict**: upload CIF/POSCAR files and get the ECNet table.

The work of every callback is a plain function of this module (tested without a browser);
the callbacks only move values between them and the page. Uploads are limited in size
(:data:`MAX_UPLOAD_BYTES` a file by default, refused before decoding; the request as a
whole is capped too) and parsed as CSV, JSON or structure text, never evaluated or
unpickled; uploaded structures are written under the app's own folder, under names of its
own, and removed once read; compressed files are refused.
The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from eftgan.errors import UserError

__all__ = [
    "MAX_UPLOAD_BYTES",
    "check_batch",
    "create_app",
    "decode_upload",
    "design_batch",
    "explore_figure",
    "on_map",
    "on_predict",
    "on_suggest",
    "predict_files",
]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: The most files one upload may carry, and the largest batch the app suggests.
MAX_FILES, MAX_BATCH = 50, 50
MIN_STEP = 0.02
#: Suffixes of compressed files, which a reader would expand beyond the upload limit.
COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")
DEFAULT_SPACE = {
    "variables": [
        {"name": "x1", "type": "continuous", "low": 0.0, "high": 1.0},
        {"name": "x2", "type": "continuous", "low": 0.0, "high": 1.0},
    ],
    "objective": {"name": "y", "goal": "minimize"},
}


def decode_upload(contents: str, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """The bytes of a Dash upload (``data:...;base64,<data>``), refused above ``limit``
    before it is decoded."""
    if not isinstance(contents, str) or "," not in contents:
        raise UserError("the upload is not a file the browser sent")
    encoded = contents.split(",", 1)[1]
    if len(encoded) > 4 * (limit // 3 + 1):
        raise UserError(f"the file is larger than the limit of {limit / 2**20:g} MiB")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise UserError("the upload is not a file the browser sent") from None


def explore_figure(elements: list[str], target: str, phase: str, step: float = 0.05) -> Any:
    """A plotly ternary map of ``target`` over three elements from the shipped EFTGAN."""
    import plotly.graph_objects as go

    from eftgan.explore import Screener

    if len(elements) != 3 or len(set(elements)) != 3:
        raise UserError("choose three different elements for a ternary map")
    if not MIN_STEP <= step <= 0.25:
        raise UserError(f"the grid step must be between {MIN_STEP} and 0.25")
    frame = Screener.load().screen(elements, step, phases=[phase])
    if target not in frame.columns:
        raise UserError(f"no target {target!r}")
    a, b, c = (frame[f"x_{e}"] for e in elements)
    fig = go.Figure(
        go.Scatterternary(
            a=a, b=b, c=c, mode="markers",
            marker={"color": frame[target], "colorscale": "Viridis", "size": 7,
                    "colorbar": {"title": target}},
            hovertemplate=f"{elements[0]} %{{a:.2f}}<br>{elements[1]} %{{b:.2f}}<br>"
            f"{elements[2]} %{{c:.2f}}<br>{target} %{{marker.color:.4g}}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(
        ternary={"aaxis": {"title": elements[0]}, "baxis": {"title": elements[1]},
                 "caxis": {"title": elements[2]}},
        title=f"{target} ({phase}), EFTGAN, step {step:g}", margin={"t": 60},
    )  # fmt: skip
    return fig


def design_batch(
    csv_bytes: bytes, space_text: str, batch: int = 5, acquisition: str = "qlogei", seed: int = 0
) -> tuple[list[dict[str, Any]], str, Any]:
    """The suggested batch (rows for a table), ``next.csv`` as text and a figure of the
    model's mean ± 2 std and acquisition along slices through the best observed point."""
    import pandas as pd

    from eftgan.design import Space, check_observations, suggest

    try:
        space = Space.from_dict(json.loads(space_text))
    except json.JSONDecodeError as exc:
        raise UserError(f"the space is not JSON ({exc.msg}, line {exc.lineno})") from None
    try:
        frame = pd.read_csv(io.BytesIO(csv_bytes))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"the upload is not a CSV ({' '.join(str(exc).split())[:80]})") from None
    frame = check_observations(frame, space, "observed.csv")
    result = suggest(space, frame, batch, acquisition, seed)
    text = result.frame.to_csv(index=False, float_format="%.6g")
    figure = slices_figure(space, frame, result.model, result.acq_function, result.acquisition)
    return result.frame.round(6).to_dict("records"), text, figure


def slices_figure(space: Any, frame: Any, model: Any, acq: Any, acquisition: str) -> Any:
    """Plotly slices (the ones ``eftgan design plot`` draws in 1D) of a fitted model and its
    acquisition: for each numeric variable, the mean ± 2 std and the acquisition through
    the best observed point."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from eftgan.design_plot import N_1D, best_point, evaluate_slice, slice_frame

    best = best_point(space, frame)
    numeric = [v for v in space.variables if not v.choices]
    fig = make_subplots(rows=len(numeric), cols=2, subplot_titles=[
        t for v in numeric for t in (f"mean ± 2 std along {v.name}", f"acquisition ({acquisition})")
    ])  # fmt: skip
    for i, v in enumerate(numeric, start=1):
        x = np.linspace(v.low, v.high, N_1D)
        r = evaluate_slice(space, model, acq, slice_frame(space, best, {v.name: x}))
        band = np.r_[r["mean"] + 2 * r["std"], (r["mean"] - 2 * r["std"])[::-1]]
        fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]], y=band, fill="toself", line_width=0,
                                 opacity=0.3, showlegend=False), row=i, col=1)  # fmt: skip
        fig.add_trace(go.Scatter(x=x, y=r["mean"], showlegend=False), row=i, col=1)
        fig.add_trace(go.Scatter(x=x, y=r["acquisition"], showlegend=False), row=i, col=2)
    fig.update_layout(height=260 * len(numeric), margin={"t": 40})
    return fig


def predict_files(files: list[tuple[str, bytes]], workdir: Path) -> list[dict[str, Any]]:
    """ECNet predictions of uploaded structure files (CIF, POSCAR, ...): each is written to
    a temporary folder under ``workdir`` under a name of the app's own (its suffix kept),
    read, and removed; rows are named by the upload's last name part."""
    from eftgan.dataset import read_structure_file
    from eftgan.model import load_model

    if not files or len(files) > MAX_FILES:
        raise UserError(f"upload one to {MAX_FILES} structure files")
    structures, names = [], []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for i, (name, data) in enumerate(files):
            shown = Path(str(name).replace("\0", "")).name[:100].strip(".") or "structure"
            if shown.lower().endswith(COMPRESSED):
                raise UserError(f"{shown}: upload structure files uncompressed")
            suffix = "".join(c for c in Path(shown).suffix if c.isalnum() or c == ".")[:10]
            path = Path(tmp) / f"upload{i}{suffix}"  # the name on disk is the app's own
            path.write_bytes(data)
            try:
                structures.append(read_structure_file(path))
            except UserError:
                raise UserError(f"{shown} is not a structure file eftgan reads") from None
            names.append(shown)
    rows = load_model().predict_structures(structures, names=names)
    return [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def _error(exc: Exception) -> str:
    """A user error as it is; anything else logged with its traceback and named briefly."""
    if isinstance(exc, UserError):
        return f"error: {exc}"
    import logging

    logging.getLogger("eftgan.serve").exception("callback failed")
    return f"error: {type(exc).__name__} (details in the server's log)"


def check_batch(value: Any) -> int:
    """The batch size typed in the page: a whole number from 1 to :data:`MAX_BATCH`."""
    try:
        batch = float(value)
    except (TypeError, ValueError):
        batch = math.nan
    if not batch.is_integer() or not 1 <= batch <= MAX_BATCH:
        raise UserError(f"the batch must be a whole number from 1 to {MAX_BATCH}")
    return int(batch)


#: Host headers a loopback server answers (a page elsewhere that rebinds its own name to
#: 127.0.0.1 sends another and is refused).
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def on_map(a: str, b: str, c: str, target: str, phase: str, step: float | None) -> tuple:
    """Explore callback: (figure, message); the figure unchanged on an error."""
    import dash

    try:
        if step is None:
            raise UserError(f"give a grid step from {MIN_STEP} to 0.25")
        return explore_figure([a, b, c], target, phase, float(step)), ""
    except Exception as exc:  # shown in the page, never a server error
        return dash.no_update, _error(exc)


def on_suggest(contents: str | None, space: str, batch: Any, limit: int) -> tuple:
    """Design callback: (table rows, next.csv text, slices figure, message); a failure
    clears the batch so that no stale one stays downloadable."""
    try:
        if contents is None:
            raise UserError("upload observed.csv first")
        rows, text, figure = design_batch(decode_upload(contents, limit), space, check_batch(batch))
        return rows, text, figure, f"{len(rows)} points suggested"
    except Exception as exc:
        return [], None, {}, _error(exc)


def on_predict(
    contents: list[str] | None, names: list[str] | None, limit: int, workdir: Path
) -> tuple:
    """Predict callback: (table rows, message)."""
    try:
        files = [(n, decode_upload(c, limit))
                 for n, c in zip(names or [], contents or [], strict=True)]  # fmt: skip
        rows = predict_files(files, workdir)
        return rows, f"{len(rows)} structures"
    except Exception as exc:
        return [], _error(exc)


def _layout(supported: list[str], upload_limit: int) -> Any:
    """The three tabs."""
    from dash import dash_table, dcc, html

    targets = ["eform_ev_per_atom", "emix_ev_per_atom", "ms_mub_per_atom", "etot_ev_per_atom",
               "rmsd_angstrom", "v0_a3_per_atom"]  # fmt: skip
    pick = {"clearable": False, "style": {"width": "12em", "display": "inline-block"}}
    explore = html.Div([
        *[dcc.Dropdown(supported, e, id=f"el{i}", **pick)
          for i, e in enumerate(("Fe", "Ni", "Co"))],
        dcc.Dropdown(targets, "ms_mub_per_atom", id="target", **pick),
        dcc.Dropdown(["fcc", "bcc"], "fcc", id="phase", **pick),
        dcc.Input(id="step", type="number", value=0.05, min=MIN_STEP, step=0.01),
        html.Div(id="explore-msg"), dcc.Graph(id="map"),
    ])  # fmt: skip
    design = html.Div([
        dcc.Upload(html.Button("Upload observed.csv"), id="observed", max_size=upload_limit),
        html.Div(id="observed-name"),
        dcc.Textarea(id="space", value=json.dumps(DEFAULT_SPACE, indent=1),
                     style={"width": "40em", "height": "14em"}),
        dcc.Input(id="batch", type="number", value=5, min=1),
        html.Button("Suggest", id="suggest"), html.Div(id="design-msg"),
        dash_table.DataTable(id="next-table"), html.Button("Download next.csv", id="get"),
        dcc.Graph(id="slices"),
        dcc.Download(id="download"), dcc.Store(id="next-csv"),
    ])  # fmt: skip
    predict = html.Div([
        dcc.Upload(html.Button("Upload CIF/POSCAR files"), id="structures", multiple=True,
                   max_size=upload_limit),
        html.Div(id="predict-msg"), dash_table.DataTable(id="predict-table"),
    ])  # fmt: skip
    return dcc.Tabs([
        dcc.Tab(explore, label="Explore"), dcc.Tab(design, label="Design"),
        dcc.Tab(predict, label="Predict"),
    ])  # fmt: skip


def _callbacks(app: Any, upload_limit: int, workdir: Path) -> None:
    """Wire the page to :func:`on_map`, :func:`on_suggest` and :func:`on_predict`."""
    import dash
    from dash import Input, Output, State

    app.callback(
        Output("map", "figure"), Output("explore-msg", "children"),
        *[Input(i, "value") for i in ("el0", "el1", "el2", "target", "phase", "step")],
    )(on_map)  # fmt: skip
    app.callback(Output("observed-name", "children"), Input("observed", "filename"))(
        lambda name: f"observed: {name}" if name else "no file yet"
    )
    app.callback(
        Output("next-table", "data"),
        Output("next-csv", "data"),
        Output("slices", "figure"),
        Output("design-msg", "children"),
        Input("suggest", "n_clicks"),
        State("observed", "contents"),
        State("space", "value"),
        State("batch", "value"),
        prevent_initial_call=True,
    )(lambda _, contents, space, batch: on_suggest(contents, space, batch, upload_limit))
    app.callback(
        Output("download", "data"),
        Input("get", "n_clicks"),
        State("next-csv", "data"),
        prevent_initial_call=True,
    )(lambda _, text: dict(content=text, filename="next.csv") if text else dash.no_update)
    app.callback(
        Output("predict-table", "data"),
        Output("predict-msg", "children"),
        Input("structures", "contents"),
        State("structures", "filename"),
        prevent_initial_call=True,
    )(lambda contents, names: on_predict(contents, names, upload_limit, workdir))


def create_app(
    workdir: str | os.PathLike[str], upload_limit: int = MAX_UPLOAD_BYTES, loopback: bool = True
) -> Any:
    """The Dash app; ``workdir`` holds what it writes (uploaded structures, briefly). With
    ``loopback`` it answers only requests addressed to this machine by a loopback name."""
    import dash

    from eftgan.explore import Screener

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    app = dash.Dash("eftgan", title="eftgan")
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_FILES * 4 * (upload_limit // 3 + 1) + 2**20
    if loopback:
        app.server.config["TRUSTED_HOSTS"] = LOOPBACK_HOSTS
    app.layout = _layout(list(Screener.load().elements), upload_limit)
    _callbacks(app, upload_limit, workdir)
    return app
