"""What the Data page shows, computed without Streamlit: class × device × city distributions of a split,
the parallel recordings of one segment by every device, and a 2-D map of pooled log-mels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from asc_core.data.labels import DEVICES, SCENES


def split_rows(ds, split: str) -> pd.DataFrame:
    """'test' or a training subset given as '5', '10', '25', '50', '100'."""
    return ds.test() if split == "test" else ds.subset(int(split))


def distribution(rows: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Counts of clips, ``a`` × ``b`` (e.g. scene × device), in the canonical label order."""
    order = {"scene": SCENES, "device": list(DEVICES)}
    t = pd.crosstab(rows[a], rows[b])
    if a in order:
        t = t.reindex([x for x in order[a] if x in t.index])
    if b in order:
        t = t.reindex(columns=[x for x in order[b] if x in t.columns])
    return t


def parallel_recordings(ds) -> pd.DataFrame:
    """Recordings whose segments were captured by several devices at once (the test recordings, in TAU22):
    recording, scene, city, devices, segments."""
    c = ds.clips
    g = c.groupby("recording").agg(
        scene=("scene", "first"), city=("city", "first"), devices=("device", "nunique"), segments=("segment", "nunique")
    )
    return g[g["devices"] > 1].sort_values(["devices", "scene", "city"], ascending=[False, True, True]).reset_index()


def parallel_segment(ds, recording: str, segment: int) -> pd.DataFrame:
    rows = ds.parallel(recording, segment)
    return rows.assign(order=rows["device"].map(list(DEVICES).index)).sort_values("order").drop(columns="order")


def feature_map(ds, filenames: list[str], method: str = "pca", seed: int = 0, progress=None) -> pd.DataFrame:
    """2-D map of clips from their log-mels pooled over time (mean and std per mel band, standardised):
    PCA or t-SNE. Columns x, y, filename, scene, device, city."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    from asc_core.data.features import FeatureConfig, extract

    fs = extract(ds, filenames, FeatureConfig(), progress=progress)
    x = np.asarray(fs.x, dtype=np.float32)
    pooled = StandardScaler().fit_transform(np.concatenate([x.mean(2), x.std(2)], 1))
    if method == "tsne":
        xy = TSNE(2, perplexity=min(30, max(5, len(pooled) // 10)), random_state=seed, init="pca").fit_transform(pooled)
    elif method == "pca":
        xy = PCA(2, random_state=seed).fit_transform(pooled)
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    meta = ds.clips.set_index("filename").loc[fs.filenames]
    return pd.DataFrame(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            "filename": fs.filenames,
            "scene": meta["scene"].values,
            "device": meta["device"].values,
            "city": meta["city"].values,
        }
    )


def sample_files(rows: pd.DataFrame, n: int, seed: int = 0) -> list[str]:
    """Up to ``n`` clips, stratified by scene and device so small classes still show."""
    if len(rows) <= n:
        return rows["filename"].tolist()
    per = max(1, n // max(1, rows.groupby(["scene", "device"]).ngroups))
    picked = rows.groupby(["scene", "device"], group_keys=False).apply(
        lambda g: g.sample(min(len(g), per), random_state=seed)
    )
    return picked["filename"].tolist()[:n]
