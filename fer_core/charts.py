"""Plotly figures built from fer_core's tables and metrics, for the dashboard and the command line
(a collection's charts.html). Imports only plotly, pandas, numpy and the class order: no Streamlit, no
TensorFlow, so `predict` can draw them after its model is loaded."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fer_core.labels import CLASSES


def class_counts_bar(counts: pd.DataFrame) -> go.Figure:
    """``counts``: classes x splits (``fer_core.data.stats.class_count_table``)."""
    long = counts.reset_index().melt(id_vars="class", var_name="split", value_name="images")
    fig = px.bar(long, x="class", y="images", color="split", barmode="group", text_auto=True,
                 category_orders={"class": list(CLASSES)})
    fig.update_layout(margin=dict(t=30, b=10), legend_title_text="split")
    return fig


def pixel_histogram_chart(histograms: pd.DataFrame) -> go.Figure:
    fig = px.line(histograms, x="intensity", y="share", color="class", category_orders={"class": list(CLASSES)})
    fig.update_layout(xaxis_title="pixel intensity (0 = black)", yaxis_title="share of pixels",
                      margin=dict(t=30, b=10))
    return fig


def learning_curves(history: list[dict[str, Any]] | pd.DataFrame, title: str = "") -> go.Figure:
    """Loss and accuracy per epoch, train and val, side by side."""
    frame = pd.DataFrame(history)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for prefix, dash in (("", "solid"), ("val_", "dash")):
            name = prefix + metric
            if name in frame:
                fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[name], name=name, mode="lines+markers",
                                         line=dict(dash=dash)), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title=title or None, margin=dict(t=50, b=10), height=340)
    return fig


def compare_curves(histories: dict[str, list[dict[str, Any]]], metric: str = "val_accuracy") -> go.Figure:
    fig = go.Figure()
    for label, history in histories.items():
        frame = pd.DataFrame(history)
        if metric in frame:
            fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[metric], name=label, mode="lines+markers"))
    fig.update_layout(xaxis_title="epoch", yaxis_title=metric, margin=dict(t=30, b=10), height=360)
    return fig


def confusion_heatmap(matrix: list[list[int]], normalized: bool = False) -> go.Figure:
    """Rows are the true class, columns the predicted one; normalized divides each row by its total."""
    counts = np.asarray(matrix, dtype=float)
    if normalized:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        text = [[f"{v:.2f}" for v in row] for row in values]
    else:
        values = counts
        text = [[f"{int(v)}" for v in row] for row in values]
    hover = "true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"
    fig = go.Figure(go.Heatmap(z=values, x=list(CLASSES), y=list(CLASSES), text=text, texttemplate="%{text}",
                               colorscale="Blues", hovertemplate=hover))
    fig.update_layout(xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
                      margin=dict(t=30, b=10), height=480)
    return fig


def per_class_bars(metrics: dict[str, Any]) -> go.Figure:
    """Precision, recall and F1 per class, each with its 95% interval as an error bar."""
    figure = go.Figure()
    intervals = metrics["intervals"]["per_class"]
    for key in ("precision", "recall", "f1"):
        values = [metrics["per_class"][c][key] for c in CLASSES]
        low = [v - (intervals[c][key] or [v, v])[0] for c, v in zip(CLASSES, values)]
        high = [(intervals[c][key] or [v, v])[1] - v for c, v in zip(CLASSES, values)]
        figure.add_bar(name=key, x=list(CLASSES), y=values,
                       error_y={"type": "data", "symmetric": False, "array": high, "arrayminus": low})
    figure.update_layout(barmode="group", title="Per class, with 95% intervals", yaxis_range=[0, 1],
                         height=340, margin={"t": 40, "b": 10})
    return figure


def operating_point_curve(rows: list[dict[str, Any]], class_name: str) -> go.Figure:
    """Accuracy and macro-F1 against the recall reached for one class (``tradeoff_curve``)."""
    frame = pd.DataFrame(rows)
    figure = go.Figure()
    figure.add_scatter(x=frame["recall"], y=frame["accuracy"], mode="lines+markers", name="accuracy")
    figure.add_scatter(x=frame["recall"], y=frame["macro_f1"], mode="lines+markers", name="macro-F1")
    figure.update_layout(title=f"What raising {class_name} recall costs (offsets fitted on these faces)",
                         xaxis_title=f"{class_name} recall", yaxis_title="score", height=340, margin={"t": 40, "b": 10})
    return figure


def probability_bars(probabilities: dict[str, float], width: int = 24) -> str:
    """The 7 probabilities as text bars in FER2013's class order, e.g. ``happy     ████████░░░░  72%``."""
    lines = []
    for name in CLASSES:
        filled = round(probabilities[name] * width)
        lines.append(f"{name:9s} {'█' * filled}{'░' * (width - filled)} {probabilities[name]:4.0%}")
    return "\n".join(lines)


def score_vs_hyperparameter(trials: pd.DataFrame, hyperparameter: str, score: str = "val_accuracy") -> go.Figure:
    frame = trials.dropna(subset=[score])
    fig = px.scatter(frame, x=hyperparameter, y=score, hover_data=list(frame.columns))
    if hyperparameter in ("lr", "learning_rate"):
        fig.update_xaxes(type="log")
    fig.update_layout(margin=dict(t=30, b=10), height=320)
    return fig


def confidence_histogram(right: np.ndarray, wrong: np.ndarray) -> go.Figure:
    """How sure the model was of its right answers and of its wrong ones (top-class probability)."""
    fig = go.Figure()
    for values, name, colour in ((right, f"right ({len(right):,})", "#2a9d8f"), (wrong, f"wrong ({len(wrong):,})",
                                                                                   "#e76f51")):
        fig.add_trace(go.Histogram(x=values, name=name, xbins=dict(start=0, end=1, size=0.05), opacity=0.7,
                                   marker_color=colour))
    fig.update_layout(barmode="overlay", xaxis_title="confidence (top-class probability)", yaxis_title="faces",
                      xaxis_tickformat=".0%", margin=dict(t=30, b=10), height=320)
    return fig


def reliability_diagram(bins: list[dict[str, Any]], title: str = "") -> go.Figure:
    """Accuracy against confidence per bin (a calibrated model lies on the diagonal); bar width: faces."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated", line=dict(dash="dash",
                                                                                            color="grey")))
    fig.add_trace(go.Scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins], mode="lines+markers",
                             name="this model", marker=dict(size=[6 + 24 * b["count"] / max(1, max(
                                 c["count"] for c in bins)) for b in bins]),
                             text=[f"{b['count']:,} faces" for b in bins],
                             hovertemplate="confidence %{x:.0%}<br>accuracy %{y:.0%}<br>%{text}<extra></extra>"))
    fig.update_layout(title=title or None, xaxis_title="confidence", yaxis_title="accuracy", xaxis_range=[0, 1],
                      yaxis_range=[0, 1], xaxis_tickformat=".0%", yaxis_tickformat=".0%", height=360,
                      margin=dict(t=40 if title else 10, b=10))
    return fig


CLASS_COLOURS = dict(zip(CLASSES, px.colors.qualitative.Plotly))


def emotion_timeline(table: pd.DataFrame, person: int, smoothed_over: int = 1) -> go.Figure:
    """One person's 7 probabilities over the video's time (top) and their top class (bottom strip);
    ``smoothed_over`` > 1 says in the title that a moving average over that many samples was applied."""
    rows = table[table["person"] == person].sort_values("time")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.04)
    for name in CLASSES:
        fig.add_trace(go.Scatter(x=rows["time"], y=rows[name], name=name, mode="lines",
                                 line=dict(color=CLASS_COLOURS[name]), legendgroup=name), row=1, col=1)
    fig.add_trace(go.Scatter(x=rows["time"], y=rows["top"], mode="markers", showlegend=False, name="top class",
                             marker=dict(color=[CLASS_COLOURS[t] for t in rows["top"]], size=7, symbol="square")),
                  row=2, col=1)
    title = f"Person {person}: expression probabilities over time"
    if smoothed_over > 1:
        title += f" (smoothed: moving average over {smoothed_over} samples)"
    fig.update_yaxes(range=[0, 1], title_text="probability", row=1, col=1)
    present = [c for c in CLASSES if c in set(rows["top"])]  # the classes that were on top, in FER2013's order
    fig.update_yaxes(categoryorder="array", categoryarray=present, range=[-0.5, len(present) - 0.5],
                     title_text="top", row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    fig.update_layout(title=title, margin=dict(t=50, b=10), height=420, hovermode="x unified")
    return fig


def expression_shares_bar(shares: pd.DataFrame) -> go.Figure:
    """Person x class shares (rows sum to 1) as one stacked horizontal bar per person."""
    long = shares.rename_axis("person").reset_index().melt(id_vars="person", var_name="expression",
                                                           value_name="share")
    long["person"] = "Person " + long["person"].astype(str)
    fig = px.bar(long, y="person", x="share", color="expression", orientation="h",
                 category_orders={"expression": list(CLASSES)}, color_discrete_map=CLASS_COLOURS)
    fig.update_layout(xaxis_tickformat=".0%", xaxis_title="share of the person's sampled time", yaxis_title="",
                      margin=dict(t=60, b=10), height=160 + 40 * len(shares), barmode="stack",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, title_text=""))
    return fig


def class_distribution_bar(counts: pd.Series) -> go.Figure:
    """Faces per predicted class."""
    fig = px.bar(x=counts.index, y=counts.values, text_auto=True, color=counts.index,
                 color_discrete_map=CLASS_COLOURS, category_orders={"x": list(CLASSES)})
    fig.update_layout(xaxis_title="predicted expression", yaxis_title="faces", showlegend=False,
                      margin=dict(t=30, b=10))
    return fig


def top_confidence_histogram(confidences: np.ndarray) -> go.Figure:
    """How sure the model was of each face's top class."""
    fig = go.Figure(go.Histogram(x=confidences, xbins=dict(start=0, end=1.0001, size=0.05)))
    fig.update_layout(xaxis_title="confidence (top-class probability)", yaxis_title="faces", xaxis_tickformat=".0%",
                      margin=dict(t=30, b=10))
    return fig


def figures_html(figures: list[go.Figure], title: str) -> str:
    """One self-contained HTML page holding the figures (plotly.js inlined once: it opens offline)."""
    parts = [figure.to_html(full_html=False, include_plotlyjs=(k == 0)) for k, figure in enumerate(figures)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h2>{title}</h2>{''.join(parts)}</body></html>")
