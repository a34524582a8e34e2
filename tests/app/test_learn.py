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
