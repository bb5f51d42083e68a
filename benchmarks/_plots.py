"""One PNG per benchmark, written by the run that measured it (matplotlib, in the bench extra)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # no display: plots only go to files
import matplotlib.pyplot as plt  # after the backend is chosen

#: The same colour for the same contender on every plot: the first key the label contains.
COLOURS = {
    "history off": "#ffb366",
    "watcher": "#ff7000",
    "mistral_jobs_async": "#ff7000",
    "mistralai": "#4a4a9c",
    "floor": "#8a8a8a",
}


def colour(label: str) -> str:
    return next((value for key, value in COLOURS.items() if key in label), "#5aa05a")


def _figure(width: float = 7.5, height: float = 3.6) -> tuple[Any, Any]:
    return plt.subplots(figsize=(width, height), dpi=110)


def _save(figure: Any, path: Path, title: str, note: str) -> None:
    figure.suptitle(title, fontsize=11)
    if note:
        figure.text(0.01, 0.01, note, fontsize=7, color="#555555")
    figure.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def bars(
    path: Path,
    groups: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    unit: str,
    note: str = "",
    log: bool = False,
) -> None:
    """Grouped horizontal bars: one group per measure, one bar per contender, labelled values."""
    figure, axes = _figure(height=1.2 + 0.42 * sum(len(g) for g in groups.values()))
    y = 0.0
    ticks: list[float] = []
    labels: list[str] = []
    for group, values in groups.items():
        for label, value in values.items():
            axes.barh(y, value, color=colour(label), height=0.8)
            shown = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
            axes.text(value, y, f" {shown} {unit}", va="center", fontsize=8)
            ticks.append(y)
            labels.append(f"{group}: {label}" if group else label)
            y += 1
        y += 0.6
    axes.set_yticks(ticks, labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(unit)
    if log:
        axes.set_xscale("log")
    axes.margins(x=0.25)
    _save(figure, path, title, note)


def lines(
    path: Path,
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    note: str = "",
    linear: Collection[str] = (),
) -> None:
    """Side-by-side log-log panels, one line per contender: how each measure grows with x.

    Panels named in ``linear`` keep a linear y axis.
    """
    figure, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4), dpi=110)
    for axis, (name, series) in zip(axes, panels.items(), strict=True):
        for label, values in series.items():
            points = [(a, b) for a, b in zip(x, values, strict=True) if b == b and b > 0]
            style = "--" if "off" in label else "-"  # a variant, often on top of its original
            axis.plot(*zip(*points, strict=True), style, marker="o", label=label,
                      color=colour(label))  # fmt: skip
        axis.set_xscale("log")
        if name not in linear:
            axis.set_yscale("log")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel(xlabel, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    _save(figure, path, title, note)
