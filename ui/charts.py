"""Plotly figure builders: training curves and class balance.

Builders return figures and draw nothing; pages pass them to
`st.plotly_chart` with a stable `key`.
"""

import plotly.graph_objects as go
from plotly.colors import qualitative

from tl_core.backbones import BACKBONES
from ui.i18n import t

MAX_POINTS_PER_LINE = 300
SPLITS = ("train", "val", "test")
SPLIT_COLOURS = {"train": "#4C78A8", "val": "#F58518", "test": "#54A24B"}
_PALETTE = qualitative.D3 + qualitative.Set2


def backbone_colour(backbone: str) -> str:
    """Return a fixed colour per backbone, so a backbone looks the same on every chart."""
    names = list(BACKBONES)
    index = names.index(backbone) if backbone in names else sum(map(ord, backbone))
    return _PALETTE[index % len(_PALETTE)]


def curves_figure(series: dict[str, list[dict]], metric: str, title: str,
                  colors: dict[str, str] | None = None) -> go.Figure:
    """Draw the train (solid) and validation (dashed) curves of `metric` for each run.

    `series` maps a run label to metrics rows with the keys epoch, loss,
    accuracy, val_loss and val_accuracy (missing or None values are left
    out). Rows with a fractional `epoch` and no validation values are
    intra-epoch points: the running train metric after a batch, at
    epoch - 1 + batch / batches. `metric` is "loss" or "accuracy". `colors`
    maps a label to a colour; labels without one take the next palette colour.
    """
    figure = go.Figure()
    for index, (label, rows) in enumerate(series.items()):
        colour = (colors or {}).get(label) or _PALETTE[index % len(_PALETTE)]
        ordered = sorted((row for row in rows if row.get("epoch") is not None),
                         key=lambda row: row["epoch"])
        train = _thin([row for row in ordered if row.get(metric) is not None])
        validation = [row for row in ordered if row.get(f"val_{metric}") is not None]
        figure.add_trace(_line(label, t("chart.train"), train, metric, colour, "solid"))
        if validation:
            figure.add_trace(
                _line(label, t("chart.validation"), validation, f"val_{metric}", colour, "dash")
            )

    figure.update_layout(
        title=title,
        xaxis_title=t("chart.epoch"),
        yaxis_title=t(f"chart.{metric}"),
        legend={"orientation": "h", "yanchor": "top", "y": -0.22},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=420,
        uirevision=title,  # keeps zoom and hidden traces across live refreshes
        hovermode="x unified",
    )
    if metric == "accuracy":
        figure.update_yaxes(range=[0, 1.02], tickformat=".0%")
    figure.update_xaxes(rangemode="tozero")
    return figure


def _line(label: str, part: str, rows: list[dict], column: str, colour: str,
          dash: str) -> go.Scatter:
    is_validation = dash != "solid"
    return go.Scatter(
        x=[row["epoch"] for row in rows],
        y=[row[column] for row in rows],
        name=f"{label} · {part}",
        legendgroup=label,
        mode="lines+markers" if is_validation else "lines",
        line={"color": colour, "dash": dash, "width": 2},
        marker={"size": 6},
        hovertemplate="%{y:.4f}",
    )


def _thin(rows: list[dict]) -> list[dict]:
    """Keep every row at a whole epoch and an even sample of the intra-epoch rows."""
    if len(rows) <= MAX_POINTS_PER_LINE:
        return rows
    step = len(rows) // MAX_POINTS_PER_LINE + 1
    return [
        row for index, row in enumerate(rows)
        if index % step == 0 or float(row["epoch"]).is_integer() or index == len(rows) - 1
    ]


def class_balance_figure(counts: dict[str, dict[str, int]], title: str) -> go.Figure:
    """Draw images per class as bars stacked by split, from `counts` (class -> split -> n)."""
    classes = list(counts)
    figure = go.Figure()
    for split in SPLITS:
        figure.add_trace(
            go.Bar(
                x=classes,
                y=[counts[name].get(split, 0) for name in classes],
                name=t(f"split.{split}"),
                marker_color=SPLIT_COLOURS[split],
            )
        )
    figure.update_layout(
        barmode="stack",
        title=title,
        xaxis_title=t("chart.class"),
        yaxis_title=t("chart.images"),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1, "xanchor": "right"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=360,
    )
    return figure
