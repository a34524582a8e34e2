"""Plotly figures shared by the app's pages (no Streamlit here)."""

from __future__ import annotations

import numpy as np


def spectrogram_figure(logmel: np.ndarray, hop_s: float, title: str = "", sample_rate: int = 32000):
    """Log-mel spectrogram in dB (10·log10 of mel power) with time in seconds and mel bins on y."""
    import plotly.graph_objects as go

    power_db = 10 * np.log10(np.exp(np.asarray(logmel, dtype=np.float64)))
    t = np.arange(power_db.shape[1]) * hop_s
    fig = go.Figure(go.Heatmap(z=power_db, x=t, y=np.arange(power_db.shape[0]), colorscale="Magma",
                               zmin=float(np.percentile(power_db, 5)), zmax=float(power_db.max()),
                               colorbar=dict(title="dB")))
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="mel bin", height=300,
                      margin=dict(l=40, r=10, t=40 if title else 10, b=40))
    return fig
