"""The models this product knows, without importing torch: each name's module (imported only when the model is
built), its family and its front end. A config is checked against it before any work, and the CLI commands that
only plan, list or show runs never load torch (`tables plan` took 5.6 s on the 2-core AMD EPYC, 2.6 s of it
importing torch and every architecture to read this table). Each module's ``@register_model`` factories must be
named here (``_registry.register_model`` refuses one that is not, or that sits in another module)."""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    module: str  # asc_core.models.<module> defines its factory
    family: str = "student"  # a CNN that fits or can be pruned to the DCASE budget; else "teacher"
    features: str = "dcase24"  # its front end (asc_core.frontend.FEATURE_PRESETS)


CATALOG: dict[str, Entry] = {
    "bc_resnet": Entry("bc_resnet"),
    "cp_mobile": Entry("cp_mobile"),
    "cp_resnet": Entry("cp_resnet"),
    "dcase24_baseline": Entry("cp_mobile"),
    "dssdn_l": Entry("dssdn"),
    "dssdn_m": Entry("dssdn"),
    "dssdn_s": Entry("dssdn"),
    "passt": Entry("passt", "teacher", "waveform"),
    "passt_s": Entry("passt", "teacher", "waveform"),
    "passt_tiny": Entry("passt", "teacher", "waveform"),
    "rep_mobile": Entry("rep_mobile"),
    "rep_mobile_paper": Entry("rep_mobile", features="rep_mobile"),
    "sscp_mobile": Entry("sscp_mobile"),
    "tf_sepnet": Entry("tf_sepnet"),
}
