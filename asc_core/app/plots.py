"""Plotly figures shared by the app's pages (no Streamlit here)."""

from __future__ import annotations

import numpy as np

from asc_core.constants import MAX_MACS, SAMPLE_RATE, SUBSETS


def to_db(logmel: np.ndarray) -> np.ndarray:
    """Natural-log mel power → dB (10·log10)."""
    return 10 * np.log10(np.exp(np.asarray(logmel, dtype=np.float64)))


def shared_db_range(logmels) -> tuple[float, float]:
    """One colour scale for several spectrograms (devices compared side by side): the loudest bin of all, and
    the 5th percentile of all bins below it — so a quiet device looks quiet, not rescaled to look like the rest."""
    dbs = np.concatenate([to_db(m).ravel() for m in logmels])
    return float(np.percentile(dbs, 5)), float(dbs.max())


def spectrogram_figure(logmel: np.ndarray, hop_s: float, title: str = "", sample_rate: int = SAMPLE_RATE, zrange=None):
    """Log-mel spectrogram in dB (10·log10 of mel power) with time in seconds and mel bins on y; ``zrange``
    (dB) shares one colour scale between figures."""
    import plotly.graph_objects as go

    power_db = to_db(logmel)
    zmin, zmax = zrange or (float(np.percentile(power_db, 5)), float(power_db.max()))
    t = np.arange(power_db.shape[1]) * hop_s
    fig = go.Figure(
        go.Heatmap(
            z=power_db,
            x=t,
            y=np.arange(power_db.shape[0]),
            colorscale="Magma",
            zmin=zmin,
            zmax=zmax,
            colorbar=dict(title="dB", tickformat=".0f"),
            hovertemplate="%{x:.2f} s · mel bin %{y} · %{z:.1f} dB<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="time (s)",
        yaxis_title="mel bin",
        height=300,
        margin=dict(l=40, r=10, t=40 if title else 10, b=40),
    )
    return fig


def pareto_figure(df, mask):
    """Macro accuracy vs MACs, one point per run, the Pareto front as a step line, the 30 M MACs limit."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for strat, g in df.groupby("strategy"):
        fig.add_trace(
            go.Scatter(
                x=g["macs"] / 1e6,
                y=g["macro_acc"],
                mode="markers",
                name=strat,
                customdata=g[["run_id", "name", "params", "teachers", "cfg.subset"]].values,
                hovertemplate="%{customdata[1]} (%{customdata[0]})<br>%{x:.2f} M MACs, "
                "%{customdata[2]:,} params<br>macro acc %{y:.1f} %<br>teachers: "
                "%{customdata[3]}; subset %{customdata[4]} %<extra></extra>",
            )
        )
    front = df[mask].sort_values("macs")
    fig.add_trace(
        go.Scatter(
            x=front["macs"] / 1e6,
            y=front["macro_acc"],
            mode="lines",
            line_shape="hv",
            name="Pareto front",
            line=dict(color="black", dash="dot"),
        )
    )
    fig.add_vline(
        x=MAX_MACS / 1e6, line=dict(color="crimson", dash="dash"), annotation_text=f"DCASE {MAX_MACS / 1e6:g} M MACs"
    )
    fig.update_layout(
        xaxis_title="MACs per 1-s clip (millions)",
        yaxis_title="macro class accuracy (%)",
        height=420,
        margin=dict(l=50, r=10, t=30, b=50),
        legend_title="strategy",
    )
    return fig


def data_efficiency_figure(curves):
    """Accuracy vs training subset (%), one line per configuration, error bars = std over seeds."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for conf, g in curves.groupby("configuration"):
        g = g.sort_values("subset")
        fig.add_trace(
            go.Scatter(
                x=g["subset"],
                y=g["mean"],
                mode="lines+markers",
                name=conf,
                error_y=dict(type="data", array=g["std"].fillna(0)),
                customdata=g["runs"],
                hovertemplate="%{x} %: %{y:.1f} % (n=%{customdata})",
            )
        )
    fig.update_layout(
        xaxis=dict(title="training subset (% of the DCASE24 split)", type="log", tickvals=list(SUBSETS)),
        yaxis_title="macro class accuracy (%)",
        height=400,
        margin=dict(l=50, r=10, t=30, b=50),
    )
    return fig


def per_device_figure(long):
    """Grouped bars of accuracy per device per run; unseen devices (s4–s6) hatched."""
    import plotly.express as px

    fig = px.bar(
        long,
        x="device",
        y="accuracy",
        color="run",
        barmode="group",
        pattern_shape="seen",
        pattern_shape_map={"seen in training": "", "unseen (s4–s6)": "/"},
    )
    fig.update_layout(
        yaxis_title="macro class accuracy (%)",
        xaxis_title="recording device",
        height=380,
        margin=dict(l=50, r=10, t=30, b=50),
    )
    return fig


def confusion_figure(m, labels, title: str = "", diff: bool = False, zmax: float | None = None):
    """A confusion matrix as a scatter of squares (selectable in Streamlit, unlike a heatmap):
    rows true scene, columns predicted scene, values in % of the true scene's clips."""
    import plotly.graph_objects as go

    n = len(labels)
    ti, pj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    z = np.asarray(m, float)
    if diff:
        lim = zmax or max(1.0, float(np.abs(z).max()))
        cs, cmin, cmax = "RdBu", -lim, lim
    else:
        cs, cmin, cmax = "Blues", 0, zmax or 100
    fig = go.Figure(
        go.Scatter(
            x=[labels[j] for j in pj.ravel()],
            y=[labels[i] for i in ti.ravel()],
            mode="markers+text",
            text=[f"{v:+.0f}" if diff else f"{v:.0f}" for v in z.ravel()],
            textfont=dict(size=9),
            marker=dict(
                symbol="square",
                size=34,
                color=z.ravel(),
                colorscale=cs,
                cmin=cmin,
                cmax=cmax,
                colorbar=dict(title="Δ points" if diff else "% of row"),
                line=dict(width=0),
            ),
            customdata=np.stack([ti.ravel(), pj.ravel()], 1),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} %<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=480,
        xaxis=dict(title="predicted scene", tickangle=45),
        yaxis=dict(title="true scene", autorange="reversed"),
        margin=dict(l=110, r=10, t=40, b=110),
    )
    return fig


def learning_curves_figure(metrics):
    """Loss and accuracy per epoch for every stage of a run (metrics in long format)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy (%)"))
    for (stage, key), g in metrics.groupby(["stage", "key"]):
        col = 1 if "loss" in key else 2 if "acc" in key else None
        if col is None:
            continue
        g = g.sort_values("epoch")
        y = g["value"] * (100 if col == 2 and g["value"].max() <= 1.0 else 1)
        fig.add_trace(go.Scatter(x=g["epoch"] + 1, y=y, mode="lines+markers", name=f"{stage}: {key}"), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=340, margin=dict(l=50, r=10, t=40, b=40))
    return fig


def overlaid_curves_figure(curves: dict, key: str = "val_acc"):
    """One metric (validation accuracy by default) of several runs over epochs, one colour per run, so runs
    are compared in one picture. ``curves``: {run label: metrics in long format}."""
    import plotly.express as px
    import plotly.graph_objects as go

    fig = go.Figure()
    colours = px.colors.qualitative.D3
    for i, (label, m) in enumerate(curves.items()):
        g = m[(m["key"] == key) & m["stage"].str.contains("student")].sort_values("epoch") if not m.empty else m
        if g.empty:
            continue
        y = g["value"] * (100 if "acc" in key and g["value"].max() <= 1.0 else 1)
        fig.add_trace(go.Scatter(x=g["epoch"] + 1, y=y, mode="lines+markers", name=label,
                                 line=dict(color=colours[i % len(colours)]),
                                 hovertemplate="epoch %{x} · %{y:.1f}<extra>" + label + "</extra>"))  # fmt: skip
    title = {"val_acc": "validation accuracy (%)", "train_loss": "training loss", "val_loss": "validation loss"}
    fig.update_layout(height=360, yaxis_title=title.get(key, key), xaxis_title="epoch",
                      margin=dict(l=50, r=10, t=30, b=40), legend=dict(orientation="h", y=-0.25))  # fmt: skip
    return fig


def seed_curves_figure(curves: dict):
    """The learning curves kept with a results cell's runs, one colour per run: test accuracy (solid, at the epochs
    that validated) and training accuracy (dotted, every epoch; on augmented, mixed clips), so a gap opening late —
    a student that goes on fitting its clips after its test accuracy stops — shows. ``curves``: {label: {"test":
    [[epoch, %], ...], "train": [[epoch, %], ...]}} (``table_record.cell_runs``' curve)."""
    import plotly.express as px
    import plotly.graph_objects as go

    fig = go.Figure()
    colours = px.colors.qualitative.D3
    for i, (label, curve) in enumerate(curves.items()):
        for part, dash in (("test", "solid"), ("train", "dot")):
            points = curve.get(part) or []
            if not points:
                continue
            x, y = zip(*points)
            name = f"{label}, {part}"
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers" if part == "test" else "lines", name=name,
                                     legendgroup=label, line=dict(color=colours[i % len(colours)], dash=dash),
                                     hovertemplate="epoch %{x} · %{y:.1f} %<extra>" + name + "</extra>"))  # fmt: skip
    fig.update_layout(height=360, yaxis_title="accuracy (%)", xaxis_title="epoch",
                      margin=dict(l=50, r=10, t=30, b=40), legend=dict(orientation="h", y=-0.25))  # fmt: skip
    return fig


def probability_figure(long, true_scene: str | None = None):
    """Grouped horizontal bars: each model's class probabilities for one clip; the true scene marked."""
    import plotly.express as px

    fig = px.bar(long, x="probability", y="scene", color="who", barmode="group", orientation="h", range_x=[0, 1])
    fig.update_layout(
        height=420,
        margin=dict(l=120, r=10, t=30, b=40),
        yaxis=dict(autorange="reversed", title=""),
        xaxis_title="probability",
        legend_title="",
    )
    if true_scene:
        fig.add_annotation(x=1, y=true_scene, text="← true scene", showarrow=False, xanchor="right")
    return fig


def kernels_figure(grid: dict):
    """Side-by-side 3×3 heatmaps (rows: frequency, columns: time) on one shared colour scale."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    lim = max(1e-6, max(float(np.abs(k).max()) for k in grid.values()))
    fig = make_subplots(rows=1, cols=len(grid), subplot_titles=list(grid), horizontal_spacing=0.03)
    for i, k in enumerate(grid.values(), start=1):
        fig.add_trace(
            go.Heatmap(
                z=k,
                zmin=-lim,
                zmax=lim,
                colorscale="RdBu",
                showscale=i == len(grid),
                texttemplate="%{z:.2f}",
                hovertemplate="%{z:.3f}<extra></extra>",
                textfont=dict(size=9),
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def layers_figure(df):
    """MACs and params per layer as horizontal bars."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("MACs", "parameters"))
    fig.add_trace(go.Bar(y=df["layer"], x=df["MACs"], orientation="h", name="MACs"), row=1, col=1)
    fig.add_trace(go.Bar(y=df["layer"], x=df["params"], orientation="h", name="params"), row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(300, 18 * len(df)), showlegend=False, margin=dict(l=10, r=10, t=40, b=30))
    return fig


def trajectory_figure(df):
    """A pruned run: params and MACs (left axis, log) and macro accuracy (right axis) per step."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    traces = [  # (column, name, hover, shown as, right axis)
        ("params", "params", "%{y:,.0f} params", {"mode": "lines+markers"}, False),
        ("MACs", "MACs", "%{customdata:.2f} M MACs", {"mode": "lines+markers", "customdata": df["MACs"] / 1e6}, False),
        ("accuracy", "macro acc (after fine-tuning)", "%{y:.1f} %", {"mode": "lines+markers", "line": {"dash": "dot"}},
         True),
        ("accuracy after pruning", "macro acc right after pruning", "%{y:.1f} %",
         {"mode": "markers", "marker": {"symbol": "x", "size": 10}}, True),
    ]  # fmt: skip
    for col, name, hover, style, right in traces:
        if col in df:
            fig.add_trace(go.Scatter(x=df["step"], y=df[col], name=name, hovertemplate=hover + "<extra></extra>",
                                     **style), secondary_y=right)  # fmt: skip
    fig.update_yaxes(type="log", title_text="count", secondary_y=False)
    fig.update_yaxes(title_text="macro accuracy (%)", secondary_y=True, range=[0, 100])
    fig.update_layout(height=380, margin=dict(l=50, r=50, t=30, b=40))
    return fig


def pruning_path_figure(long):
    """The pruned runs of one results cell, one line per seed through each step (``learn.pruning_paths``): where
    the cut leaves the network and what fine-tuning wins back."""
    import plotly.graph_objects as go

    fig = go.Figure()
    symbols = {"trained": "circle", "right after the cut": "x", "fine-tuned": "diamond"}
    for seed, g in long.groupby("seed", sort=True):
        fig.add_trace(go.Scatter(x=g["step"], y=g["accuracy"], name=f"seed {seed}", mode="lines+markers",
                                 marker={"symbol": [symbols.get(k, "circle") for k in g["kind"]], "size": 9},
                                 customdata=g["kind"],
                                 hovertemplate="%{x}: %{y:.1f} % (%{customdata})<extra></extra>"))  # fmt: skip
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=list(dict.fromkeys(long["step"])))
    fig.update_yaxes(title_text="macro accuracy (%)", range=[0, 100])
    fig.update_layout(height=320, margin=dict(l=50, r=20, t=30, b=40), legend_title_text="")
    return fig


def topk_figure(top: list[tuple[str, float]], k: int = 5):
    """The k most probable scenes as horizontal bars."""
    import plotly.graph_objects as go

    top = top[:k]
    fig = go.Figure(
        go.Bar(
            x=[p for _, p in top],
            y=[s for s, _ in top],
            orientation="h",
            text=[f"{p:.0%}" for _, p in top],
            textposition="auto",
        )
    )
    fig.update_layout(
        xaxis=dict(range=[0, 1], title="probability (mean over 1-s windows)"),
        yaxis=dict(autorange="reversed"),
        height=60 + 40 * len(top),
        margin=dict(l=120, r=10, t=10, b=40),
    )
    return fig


def per_second_figure(probs, labels):
    """Scene probabilities per 1-s window (a heatmap: windows × scenes)."""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Heatmap(
            z=np.asarray(probs).T,
            x=np.arange(len(probs)) + 0.5,
            y=labels,
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            colorbar=dict(title="p"),
        )
    )
    fig.update_layout(xaxis_title="time (s)", height=340, margin=dict(l=120, r=10, t=10, b=40))
    return fig


def _ours_beside_paper(frame, ours: str, paper: str, trace, colours, **subplots):
    """Two panels, this product's figures (left) and the paper's (right): ``trace(group, row, colour, left,
    **legend)`` for each row and panel that has figures. A row keeps its colour in both panels and has one legend
    entry, which hides it in both."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=(ours, paper), **subplots)
    in_legend = set()
    for k, row in enumerate(dict.fromkeys(frame["row"])):
        for col, source in ((1, ours), (2, paper)):
            g = frame[(frame["row"] == row) & (frame["source"] == source)].sort_values("subset")
            if g.empty:
                continue
            legend = dict(name=row, legendgroup=row, showlegend=row not in in_legend)  # one validation, not two
            fig.add_trace(trace(g, row, colours[k % len(colours)], col == 1, **legend), row=1, col=col)
            in_legend.add(row)
    fig.update_layout(height=440, margin=dict(l=50, r=10, t=40, b=40), legend=dict(orientation="h", y=-0.22))
    return fig


def vs_paper_figure(long, ours: str, paper: str):
    """One table as accuracy vs training subset: this product's runs (left, error bars = std over seeds) beside the
    paper's figures (right, dashed), each panel on its own y axis — two datasets, compared for direction, not
    level. ``long``: row, subset, source (``ours`` or ``paper``, also the panels' titles), mean, std, n."""
    import plotly.express as px
    import plotly.graph_objects as go

    def trace(g, row, colour, left, **legend):
        hover = f"{row}<br>%{{x}} %: %{{y:.1f}} %" + (" (n=%{customdata})" if left else " (paper)")
        return go.Scatter(x=g["subset"], y=g["mean"], mode="lines+markers", customdata=g["n"],
                          hovertemplate=hover + "<extra></extra>",
                          line=dict(color=colour, dash="solid" if left else "dash"),
                          error_y=dict(type="data", array=g["std"], visible=left), **legend)  # fmt: skip

    fig = _ours_beside_paper(long, ours, paper, trace, px.colors.qualitative.Plotly, horizontal_spacing=0.08)
    fig.update_xaxes(type="log", tickvals=[5, 25, 100], ticktext=["5 %", "25 %", "100 %"], title_text="training subset")
    fig.update_yaxes(title_text="macro class accuracy (%)", col=1)
    return fig


def vs_paper_gain_figure(gains, ours: str, paper: str, reference: str):
    """Each row's gain over the table's reference row (points), per subset: this product's (left, error bars = the
    two rows' seed spread combined) beside the paper's (right), on one y axis — a bar on the same side of zero in
    both panels is a direction the product reproduces."""
    import plotly.express as px
    import plotly.graph_objects as go

    from asc_core.paper_results import p_words

    def trace(g, row, colour, left, **legend):
        runs = [f"<br>{n} run{'s' * (n != 1)}, ± {s:.1f}; Welch p {p_words(p)}" if left else "" for n, s, p in
                zip(g["n"], g["spread"], g["p"])]  # fmt: skip
        return go.Bar(x=[f"{s} %" for s in g["subset"]], y=g["gain"], marker_color=colour, customdata=runs,
                      error_y=dict(type="data", array=g["spread"], visible=left),
                      hovertemplate=f"{row}<br>%{{x}}: %{{y:+.1f}} points over {reference}"
                      "%{customdata}<extra></extra>",
                      **legend)  # fmt: skip

    colours = px.colors.qualitative.Plotly[1:]  # the reference row is the first colour of the accuracy view
    fig = _ours_beside_paper(gains, ours, paper, trace, colours, shared_yaxes=True, horizontal_spacing=0.04)
    fig.add_hline(y=0, line_color="grey", line_width=1)
    # a category axis, said outright: plotly.js reads "5 %" as the number 5 when left to guess
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=["5 %", "25 %", "100 %"])
    fig.update_yaxes(title_text=f"points over {reference}", col=1)
    fig.update_layout(barmode="group")
    return fig


def teacher_lead_figure(pairs, fit, rows: list[str]):
    """Seed by seed, one panel per subset: each KD run's gain over its twin without teachers (y, points) against its
    best teacher's lead over that twin (x, points), with the least-squares line; each panel's title gives Pearson's
    r beside its mean with the teachers shuffled among the pairs (what the shared twin gives alone) and its p. Right
    of zero a teacher was ahead of the student alone; above zero the student gained. ``rows`` orders and colours the
    rows: Table IV's, *no KD* first, so that each keeps its colour of the table's gain view (the Learn page), or a
    store's teacher sets (the Compare page). ``pairs``: ``teacher_lead.lead_pairs`` or
    ``app.compare.teacher_lead_pairs``; ``fit``: ``teacher_lead.lead_fit``."""
    import plotly.express as px
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from asc_core.paper_results import p_words

    subsets = list(dict.fromkeys(pairs["subset"]))
    by = fit.set_index("subset")

    def title(s) -> str:
        f = by.loc[s]
        said = f"<br>r {f.r:.2f}; teachers shuffled: {f.r_shuffled:.2f} (p {p_words(f.p)})"
        return f"{s} % · {int(f.n)} pairs" + ("" if np.isnan(f.r) else said)

    fig = make_subplots(rows=1, cols=len(subsets), subplot_titles=[title(s) for s in subsets], shared_yaxes=True,
                        horizontal_spacing=0.04)  # fmt: skip
    colours = px.colors.qualitative.Plotly
    shown, traces, shapes = set(), [], []
    for col, s in enumerate(subsets, start=1):
        axes = dict(xaxis=f"x{col if col > 1 else ''}", yaxis=f"y{col if col > 1 else ''}")  # row/col, cheaper
        g = pairs[pairs["subset"] == s]
        order = sorted(dict.fromkeys(g["row"]), key=lambda r: rows.index(r) if r in rows else len(rows))
        for row in order:  # in the table's order, each row in its colour of the gain view
            h = g[g["row"] == row]
            k = rows.index(row) if row in rows else len(rows)
            text = [f"seed {r.seed}: {r.student:.1f} % with teachers, {r.alone:.1f} % without<br>best teacher "
                    f"{r.best_teacher} {r.teacher_accuracy:.1f} %" for r in h.itertuples()]  # fmt: skip
            traces.append(go.Scatter(x=h["lead"], y=h["gain"], mode="markers", name=row, legendgroup=row,
                                     showlegend=row not in shown, text=text, **axes,
                                     marker=dict(size=9, color=colours[k % len(colours)], line=dict(width=0.5)),
                                     hovertemplate=f"{row}<br>%{{text}}<br>lead %{{x:+.1f}}, gain %{{y:+.1f}} "
                                     "points<extra></extra>"))  # fmt: skip
            shown.add(row)
        f = by.loc[s]
        if not np.isnan(f.slope):
            xs = np.array([g["lead"].min(), g["lead"].max()])
            line = g["gain"].mean() + f.slope * (xs - g["lead"].mean())  # least squares passes through the means
            traces.append(go.Scatter(x=xs, y=line, mode="lines", line=dict(color="grey", dash="dot"), **axes,
                                     name="least squares", legendgroup="fit", showlegend="fit" not in shown,
                                     hoverinfo="skip"))  # fmt: skip
            shown.add("fit")
        x, y = axes["xaxis"], axes["yaxis"]  # zero lines, one pair a panel
        grey = dict(color="grey", width=1)
        shapes += [dict(type="line", xref=f"{x} domain", x0=0, x1=1, yref=y, y0=0, y1=0, line=grey),
                   dict(type="line", xref=x, x0=0, x1=0, yref=f"{y} domain", y0=0, y1=1, line=grey)]  # fmt: skip
    fig.add_traces(traces)
    lead = {"title": {"text": "best teacher's lead (points)"}}
    fig.update_layout(
        {f"xaxis{k if k > 1 else ''}": lead for k in range(1, len(subsets) + 1)},
        shapes=shapes,
        yaxis={"title": {"text": "student's gain (points)"}},
        height=460,
        margin=dict(l=50, r=10, t=60, b=40),
        legend=dict(orientation="h", y=-0.25),
    )  # one update: fast
    fig.update_annotations(font_size=13)  # the panels' titles, two lines each
    return fig
