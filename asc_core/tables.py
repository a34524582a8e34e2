"""The seeds' ablations run through the product itself: Tables II–V and device-specific fine-tuning — the plan.

``plan`` lists every run the tables need (one validated ExperimentConfig per table row × subset × seed), named
``"Table V · single 64→32 (same FT budget)"`` so the tables are read back from the runs by name. The recipe is
the ``quick`` preset's (Adam, cosine, KD λ 0.3, τ 2, two stored views) with its epochs scaled to the subset —
``epochs(subset) = max(3, round(12 × 25 / subset))``: 60 at 5 %, 12 at 25 %, 3 at 100 % — so every subset gets
about the same number of optimisation steps (a 5 % subset at 12 epochs gives too few to leave chance). The warm-up
was not scaled with them (one epoch: 2 % of a 5 % run, a third of a 100 % run); found after 71 runs had been
recorded under this recipe, it is kept (changing it changes every config digest) and said under the tables.
``result_key`` is the digest a planned run's result is kept under. What has been recorded, and where each planned
run stands, is ``asc_core.table_record``; docs/RESULTS.md is written by ``asc_core.table_report``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from asc_core.config import ExperimentConfig, parse_config
from asc_core.embedded.synth import dataset_tag

TABLE_SUBSETS = (5, 25, 100)


TABLES = ("II", "III", "IV", "V", "device")


_TEACHER_OPTIM = {"epochs": 12, "batch_size": 64, "optimizer": "adam", "lr": 0.002, "warmup_epochs": 1}


_CNN = [{"model": {"name": "cp_resnet", "width": 32}}, {"model": {"name": "cp_mobile", "width": 64}}]


# PaSST-tiny at lr 0.001, as a teacher and alone (Table III): the paper's one sentence on training ("all models ...
# 0.01") is not taken literally for its transformer — PaSST's own recipes train with Adam(W) at 1e-4 (from scratch,
# assets/presets/teachers/passt-scratch.yaml) to 1e-5 (fine-tuning); 1e-3 is the highest of that family, for the
# tables' few epochs. Not measured at 0.01.
_TRANSFORMER = [{"model": {"name": "passt_tiny"}, "optim": {**_TEACHER_OPTIM, "lr": 0.001}}]


# Table IV's CNN pair once more, its teachers trained as the paper trains every model (Adam, lr 0.01, cosine — the
# students' recipe here; Han et al.: "all models, including the baseline systems, are trained for 150 epochs using
# the Adam optimizer ... the learning rate is linearly increased from 0 to 0.01"). The other teachers keep the quick
# preset's teacher recipe (lr 0.002), on which Tables IV and V were recorded before the paper's sentence was checked
# (changing it changes their configs); on generator 1 that recipe's CP-Mobile-64 teachers reached 40 % at 5 %, 11
# points below the same network at lr 0.01 (Table III); on generator 2, 40 against 45. This row measures what the
# teachers' recipe costs the student, beside the row it repeats.
_CNN_PAPER_LR = "CNN teachers at the paper's lr 0.01"


# The same teachers (the same zoo entries: a teacher's key holds its recipe and the stored views, not the student's
# loss), the student distilled with the paper's own loss: eq. (1), KL(teacher_k ‖ student) per teacher at τ = 0.1,
# averaged over the teachers (train/kd.py, ``paper``), at CP-JKU's λ = 0.02, which the ``paper`` preset takes (Han
# et al. give no λ). Every other KD row uses the quick preset's loss: CP-JKU's (τ 2, the teachers' mean logits, a
# mean over batch and classes) at λ 0.3, which weighs the labels about as much as the teachers (0.3 CE against
# 0.7·τ²/10 = 0.28 KL) where CP-JKU's λ 0.02 lets the teachers lead. On generator 1 no KD row beat no KD at 5 %;
# this row asked whether the loss was why (docs/results/findings/IV.md says what it found on each generator).
CNN_PAPER_KD_ROW = "CNN teachers at lr 0.01, the paper's KD loss"


class Paired(NamedTuple):
    """Two rows that train the same thing per subset and seed but for one difference: compared seed by seed."""

    row: str
    ref: str
    of: str | None = None  # the table ``row`` is in, where it is not the table it is shown with


ALL_BRANCHES_ROW = "all branches (3×3, 1×1, 3×1, 1×3)"
# Rows compared seed by seed (a paired test: what they share per seed cancels; table_report.paired_text), with what
# they share. Table V's pruning rows prune the same width-96 parent. Table IV's *no KD* is Table II's first row plus
# RepVGG's BatchNorm-only identity branch, which ``rep_mobile`` (the student of Tables IV, V and device) trains beside
# the paper's four: the same recipe, seeds and data otherwise (tests/test_tables.py compares the two configs), so the
# pair measures the one branch those tables' student has that the paper's does not.
PAIRED_ROWS = {
    "II": (Paired("no KD", ALL_BRANCHES_ROW, of="IV"),),
    # "IV": each KD row against *no KD*, set below ``row_overrides`` from its rows
    "V": (
        Paired("progressive 96→64→32 (full FT per round)", "single 96→32"),
        Paired("progressive 96→64→32 (same FT budget)", "single 96→32"),
    ),
}
PAIRED_WHY = {
    "II": "RepVGG's identity branch, seed by seed: the student of Tables IV, V and the device table (`rep_mobile`) "
    "trains a BatchNorm-only identity branch beside the paper's four (the deployed network is the same). Table IV's "
    "*no KD* row is this table's first row plus that branch, on the same recipe, seeds and data, so the two rows "
    "measure it (points; paired t-test):",
    "IV": "Each KD row against its own seed's *no KD* run (the same initial weights and batches: the teachers and "
    "the loss are the one difference; points; the paired t-test cancels the seed's level, which Welch's test against "
    "the *no KD* row does not):",
    "V": "From the same parent, seed by seed (points; the paired t-test cancels the parent's level, which Welch's "
    "test against the first row does not):",
}


_PAPER_KD = {"variant": "paper", "tau": 0.1, "lam": 0.02, "views": 2}


# And the quick recipe's loss (CP-JKU's, τ 2) at CP-JKU's own λ 0.02 instead of 0.3: the teachers lead as in the row
# above, with their soft targets kept. Beside the lr-0.01 row (λ 0.3) and the paper's loss, it tells the weight from
# the loss's form.
CNN_CPJKU_LAM_ROW = "CNN teachers at lr 0.01, CP-JKU's λ 0.02"


BRANCH_SETS = {  # Table II: Rep-Mobile's training-time branches (the paper's four), KD off
    ALL_BRANCHES_ROW: ["3x3", "1x1", "3x1", "1x3"],
    "without 3×3": ["1x1", "3x1", "1x3"],
    "without 1×1": ["3x3", "3x1", "1x3"],
    "without 3×1 + 1×3": ["3x3", "1x1"],
}


# Table III's pretrained row (the paper's PaSST-PT), planned only where the AudioSet release is here (`teachers
# download passt_s_audioset`: 300 MB, never fetched at run time): PaSST-S from those weights, trained on the subset
# with the teacher recipe's learning rate and patchout (assets/presets/teachers/passt-audioset.yaml) at the table's
# epochs. Hours per run on a CPU (`bench teachers`): a GPU's row.
PRETRAINED_ROW = "PaSST-S, AudioSet-pretrained"


# Every row trains for the same number of steps at every subset (the epochs scale as 25 / subset: 60 × 350 =
# 12 × 1,750 = 3 × 7,000 = 21,000 clips seen, about 330 steps of 64). PaSST-tiny from scratch stays at 28–30 % at all
# three subsets with its curves still rising: a flat row may be the step budget, not the data. This row trains the
# same transformer for 4× the steps (240 / 48 / 12 epochs) to tell the two apart. The paper trains every model for
# 150 epochs; on its 5 % (about 7,000 clips) that is 50× this budget.
_PASST_LONGER = "PaSST (tiny), from scratch, 4× the steps"


# Table II's branches against none at 4× the steps, at 100 % only (12 epochs, not 3). On generator 2 the plain
# CP-Mobile came out 5.6 points above all four branches at 100 % (the paper: branches +1.5 over a missing branch),
# where the table trains 3 epochs of which the first is warm-up. Re-parameterisation is a claim about how a network
# trains; this pair asks whether the order holds with more of it. The paper's 150 epochs are 50× the table's.
_II_LONGER = {"all branches, 4× the steps": ALL_BRANCHES_ROW,
              "plain CP-Mobile, 4× the steps": "plain CP-Mobile (no branches)"}  # fmt: skip


def _passt_pt() -> dict:
    from asc_core.config import teacher_recipe

    r = teacher_recipe("passt-audioset")
    kwargs = {**r["model"].get("kwargs", {}), "checkpoint": "audioset"}
    return {"student": {"name": r["model"]["name"], "kwargs": kwargs}, "optim": {"lr": r["optim"]["lr"]}}


def _audioset_present() -> bool:
    from asc_core.weights import AUDIOSET, WeightsError, check_present

    try:
        check_present(AUDIOSET)
        return True
    except WeightsError:
        return False


def epochs_for(subset: int, at_25: int = 12) -> int:
    return max(3, round(at_25 * 25 / subset))


def validate_every_for(subset: int, times: int = 1) -> int:
    """At most about 12 points on a learning curve, whatever the epochs (the quick preset's every 2nd epoch at 25
    and 100 %): at 5 % (60 epochs of 350 clips) validating on the 1,800 test clips every 2nd epoch (a teacher:
    every epoch) cost more than the training. It does not change what a run trains (the validation loader has its
    own generator; tests/train/test_pipeline.py), so ``result_key`` leaves it out."""
    return max(2, epochs_for(subset) * times // 12)


def row_overrides(table: str) -> dict[str, dict]:
    """Row label → config overrides (over the quick preset) for one table."""
    rep32 = {"student": {"name": "rep_mobile", "width": 32}}
    if table == "II":
        rows = {k: {"student": {"name": "rep_mobile", "width": 32, "kwargs": {"branches": b}}, "teachers": []}
                for k, b in BRANCH_SETS.items()}  # fmt: skip
        rows["plain CP-Mobile (no branches)"] = {"student": {"name": "dcase24_baseline", "width": 32}, "teachers": []}
        for label, row in _II_LONGER.items():
            rows[label] = {**rows[row], "epochs_x": 4, "subsets": (100,)}
        return rows
    if table == "III":  # each teacher trained alone, on its own recipe
        return {"CP-ResNet (ρ 8, width 32)": {"student": {"name": "cp_resnet", "width": 32}},
                "CP-Mobile, wide (width 64)": {"student": {"name": "cp_mobile", "width": 64}},
                "BC-ResNet": {"student": {"name": "bc_resnet"}},
                "PaSST (tiny), from scratch": {"student": {"name": "passt_tiny"}, "optim": {"lr": 0.001}},
                _PASST_LONGER: {"student": {"name": "passt_tiny"}, "optim": {"lr": 0.001}, "epochs_x": 4},
                **({PRETRAINED_ROW: _passt_pt()} if _audioset_present() else {})}  # fmt: skip
    if table == "IV":
        cnn_lr01 = [{**t, "optim": {"lr": 0.01}} for t in _CNN]
        return {"no KD": {**rep32, "teachers": []},
                "CNN teachers (CP-ResNet + CP-Mobile-64)": {**rep32, "teachers": _CNN},
                "transformer teacher (PaSST tiny)": {**rep32, "teachers": _TRANSFORMER},
                "CNN + transformer teachers": {**rep32, "teachers": _CNN + _TRANSFORMER},
                _CNN_PAPER_LR: {**rep32, "teachers": cnn_lr01},
                CNN_PAPER_KD_ROW: {**rep32, "teachers": cnn_lr01, "kd": _PAPER_KD},
                CNN_CPJKU_LAM_ROW: {**rep32, "teachers": cnn_lr01, "kd": {"lam": 0.02}}}  # fmt: skip
    if table == "V":
        rows = {f"width {w}, unpruned": {"student": {"name": "rep_mobile", "width": w}} for w in (32, 64, 96)}
        for label, w, chain in (("single 64→32", 64, [32]), ("single 96→32", 96, [32])):
            rows[label] = {"student": {"name": "rep_mobile", "width": w}, "pruning": {"mode": "single", "chain": chain}}
        for label, ft in (
            ("progressive 96→64→32 (same FT budget)", "half"),
            ("progressive 96→64→32 (full FT per round)", "full"),
        ):
            rows[label] = {"student": {"name": "rep_mobile", "width": 96},
                           "pruning": {"mode": "progressive", "chain": [64, 32], "ft": ft}}  # fmt: skip
        return rows
    if table == "device":  # the DCASE2025 baseline's recipe: every parameter per training device, no MixStyle
        return {"general model → device-specific fine-tuning": {"device_finetune": {"enabled": True}}}
    raise ValueError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")


# Table IV's student starts from its seed's weights whatever its teachers (the runner seeds again after training them)
# and sees its seed's batches in the same order, so each KD run and its seed's *no KD* run differ in the teachers and
# the loss alone (tests/test_tables.py compares the configs).
PAIRED_ROWS["IV"] = tuple(Paired(row, "no KD") for row in row_overrides("IV") if row != "no KD")


def row_subsets(table: str, over: dict, subsets=TABLE_SUBSETS) -> tuple[int, ...]:
    """The subsets a row is planned at: the device table's 25 %; a row that names its own (Table II's 4×-steps pair:
    100 %) those of ``subsets``; else ``subsets``."""
    if table == "device":
        return (25,)
    return tuple(s for s in subsets if s in over.get("subsets", subsets))


def row_prunes(table: str, row: str) -> bool:
    """Whether a table's row prunes its student (Table V's single and progressive rows)."""
    return table in TABLES and "pruning" in row_overrides(table).get(row, {})


def _config(table: str, row: str, over: dict, subset: int, seed: int, dataset: str) -> ExperimentConfig:
    times = over.get("epochs_x", 1)  # a row that trains for a multiple of the table's steps
    epochs = epochs_for(subset) * times
    raw = {"preset": "quick", "dataset": dataset, "subset": subset, "seed": seed, "name": f"Table {table} · {row}"}
    raw |= {k: v for k, v in over.items() if k not in ("optim", "pruning", "teachers", "epochs_x", "subsets")}
    every = validate_every_for(subset, times)
    raw["optim"] = {"epochs": epochs, "validate_every": every, **over.get("optim", {})}
    teachers = over.get("teachers")
    if teachers is not None:
        raw["teachers"] = [{"seed": seed, **t, "optim": {**_TEACHER_OPTIM, **t.get("optim", {}), "epochs": epochs,
                                                          "validate_every": every}}
                           for t in teachers]  # fmt: skip
    else:  # the quick preset's CP-ResNet, at this subset's epochs and this seed
        raw["teachers"] = [{"model": {"name": "cp_resnet", "width": 32}, "seed": seed,
                            "optim": {**_TEACHER_OPTIM, "epochs": epochs, "validate_every": every}}]  # fmt: skip
    if table in ("II", "III"):
        raw["teachers"] = []
    if "pruning" in over:
        p = dict(over["pruning"])
        rounds = len(p["chain"])
        full = max(1, epochs // 3)  # the quick presets fine-tune for a third of the training epochs per round
        p["finetune_epochs"] = full if p.pop("ft", "full") == "full" else max(1, full // rounds)
        raw["pruning"] = {"pruner": "l1", "schedule": "linear", "total_times": 4, "schedule_epochs": 1, **p}
    return parse_config(raw)


def plan(tables=TABLES, subsets=TABLE_SUBSETS, seeds: int = 2, dataset: str | None = None) -> list[dict]:
    """Every run the tables need: [{table, row, subset, seed, config}], validated."""
    from asc_core.paths import data_home

    dataset = dataset or str(data_home() / "standard")
    out = []
    for table in tables:
        for row, over in row_overrides(table).items():
            for subset in row_subsets(table, over, subsets):
                for seed in range(seeds):
                    cfg = _config(table, row, over, subset, seed, dataset)
                    out.append({"table": table, "row": row, "subset": subset, "seed": seed, "config": cfg})
    _mark_same_runs(out)
    return out


def _mark_same_runs(items: list[dict]) -> None:
    """A row whose config at a subset is another row's but for its name gets ``same_as`` (that row) and no runs
    of its own: at 100 % (3 epochs) the two progressive rows both fine-tune one epoch per round — one config,
    which the plan used to run twice."""
    first: dict[tuple, str] = {}
    for i in items:
        key = (i["table"], i["subset"], i["seed"], result_key(i["config"].model_copy(update={"name": ""})))
        if first.setdefault(key, i["row"]) != i["row"]:
            i["same_as"] = first[key]


def runs_of(items: list[dict]) -> list[dict]:
    """The items that are runs (a ``same_as`` row shows another row's)."""
    return [i for i in items if not i.get("same_as")]


def result_key(cfg: ExperimentConfig, dataset: str | None = None) -> str:
    """The digest a result is kept under: the config without the dataset's folder, plus what the data is
    (``dataset_tag``: its name, and the embedded generator's version from 2 on) — the same run on another machine
    (its data elsewhere) is the same result, on another version of the embedded set it is not — and without
    ``validate_every``. ``dataset``: the tag, where it is known otherwise (a finished run's summary)."""
    import hashlib

    d = _without(cfg.model_dump(mode="json"), "validate_every")  # how often a curve is sampled, not what trains
    d["dataset"] = dataset or dataset_tag(d.get("dataset"))
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _without(d, key: str):
    if isinstance(d, dict):
        return {k: _without(v, key) for k, v in d.items() if k != key}
    if isinstance(d, list):
        return [_without(v, key) for v in d]
    return d


def run_key(run: dict, key=None) -> str | None:
    """A run's result key (``key``: another digest of (config, data tag), e.g. ``zoo.parent_key``): on the data its
    summary names; a finished run without one is older than generator 2 (its folder's bare name); a run not finished
    yet trains on its folder as it is now."""
    summary = run.get("summary") or {}
    tag = summary.get("dataset_tag") or (Path(run["config"].get("dataset") or "mini").name if summary else None)
    try:
        return (key or result_key)(parse_config(run["config"]), tag)
    except Exception:  # noqa: BLE001 — a run of an older config schema is simply not one of the tables'
        return None


def reference_row(table: str) -> str:
    """The row a table's others are read against (its first: all branches, CP-ResNet, no KD, width 32)."""
    return next(iter(row_overrides(table)))
