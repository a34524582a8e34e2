"""The Learn page's numbers (no Streamlit): the temperature chart's data."""

import numpy as np
import pytest

from asc_core.app import learn


@pytest.mark.parametrize("tau", [1.0, 2.0, 6.0])
def test_temperature_chart_has_one_labelled_series_per_temperature(tau):
    df = learn.distribution_frame(learn.EXAMPLE_TEACHER, tau)
    series = df.groupby("temperature")["probability"]
    assert series.ngroups == 2  # two labelled series, also at τ = 1 (they are grouped, never stacked)
    assert np.allclose(series.sum().to_numpy(), 1.0)  # each is a distribution: no bar pair can read above 1
    assert all(name.startswith("τ = ") for name in series.groups)


def test_device_spectrograms_share_one_db_scale(tiny_root):
    from asc_core.app.views import clip_views_shared
    from asc_core.data import open_dataset

    files = open_dataset(tiny_root).clips["filename"].tolist()[:3]
    views = clip_views_shared(str(tiny_root), files, ["a", "b", "c"])
    ranges = {(v["figure"].data[0].zmin, v["figure"].data[0].zmax) for v in views}
    assert len(ranges) == 1  # one scale, so a quieter device looks quieter


def test_kernel_heatmaps_print_two_decimals():
    from asc_core.app.plots import kernels_figure

    fig = kernels_figure({"3x3": np.full((3, 3), 0.123456789), "1x1": np.zeros((3, 3))})
    assert fig.data[0].texttemplate == "%{z:.2f}"


def test_learning_curves_of_several_runs_get_one_colour_each():
    import pandas as pd

    from asc_core.app.plots import overlaid_curves_figure

    def curve(acc):
        return pd.DataFrame({"stage": "student training", "epoch": [0, 1], "step": [1, 2], "key": "val_acc",
                             "value": acc, "ts": [0, 1]})  # fmt: skip

    fig = overlaid_curves_figure({"run A": curve([0.2, 0.4]), "run B": curve([0.3, 0.5])})
    assert [t.name for t in fig.data] == ["run A", "run B"]
    assert fig.data[0].line.color != fig.data[1].line.color and list(fig.data[1].y) == [30.0, 50.0]


def test_a_cells_runs_list_their_thread_count_where_it_was_recorded():
    """The Learn page's runs of a cell (from the committed CSV): whole thread counts, empty for a row recorded
    before the column existed, and the rest in the page's units."""
    from asc_core import table_record

    cell = table_record.cell_runs("II", "all branches (3×3, 1×1, 3×1, 1×3)", 25)
    cell = cell.iloc[:2].assign(threads=[1.0, float("nan")])
    shown = learn.cell_table(cell)
    assert str(shown["CPU threads"].dtype) == "Int64" and shown["CPU threads"].iloc[0] == 1
    assert shown["CPU threads"].isna().iloc[1]
    assert {"macro accuracy (%)", "M MACs", "training (s)"} <= set(shown.columns)
