"""Experiment configs: validated pydantic models loaded from YAML, with ``--set key=value`` overrides.

A wrong key or value fails before any work starts, naming the key and what is allowed.
Presets live in ``assets/presets/*.yaml``; a config may start with ``preset: NAME`` and override parts.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from asc_core.constants import (
    DEFAULT_PRECISION,
    MAX_CONFIG_BYTES,
    MAX_MACS,
    MAX_NAME_CHARS,
    MAX_PARAM_BYTES,
    N_CLASSES,
    SUBSETS,
    check_width,
)
from asc_core.frontend import FEATURE_PRESETS
from asc_core.paths import ASSETS

PRESETS_DIR = ASSETS / "presets"


class ConfigError(ValueError):
    """A config that cannot be run; the message names the key and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSpec(_Strict):
    name: str = "rep_mobile"
    width: int | None = None
    kwargs: dict = Field(default_factory=dict)
    init_from: str | None = Field(
        None,
        description="start from this finished run's trained student (run id); "
        "with optim.epochs: 0 it is used as it is, e.g. to prune it",
    )

    @field_validator("name")
    @classmethod
    def _known(cls, v):
        from asc_core.models import list_models

        if v not in list_models():
            raise ValueError(f"unknown model {v!r}; allowed: {', '.join(list_models())}")
        return v

    @field_validator("width")
    @classmethod
    def _width(cls, v):
        return v if v is None else check_width(v)

    @model_validator(mode="after")
    def _audioset(self):
        """``kwargs: {checkpoint: audioset}`` (a PaSST-S trained from the AudioSet release, as Table III's
        pretrained row): the weights must be here before any work starts."""
        if self.kwargs.get("checkpoint") == "audioset":
            from asc_core.weights import AUDIOSET, WEIGHTS, check_present

            if self.name != WEIGHTS[AUDIOSET]["model"]:
                raise ValueError(f"checkpoint 'audioset' is the {WEIGHTS[AUDIOSET]['model']} AudioSet release, "
                                 f"not a {self.name}")  # fmt: skip
            check_present(AUDIOSET)  # WeightsError (a ValueError): how to get them
        return self

    def build(self, n_classes: int = N_CLASSES):
        from asc_core.models import create_model

        kw = dict(self.kwargs)
        if self.width is not None:
            kw["width"] = self.width
        return create_model(self.name, n_classes=n_classes, **kw)


class Optim(_Strict):
    epochs: int = Field(10, ge=0, description="0 only with student.init_from (reuse a trained student as it is)")
    batch_size: int = Field(64, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(0.01, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_epochs: float = Field(1.0, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    validate_every: int = Field(1, ge=1, description="evaluate on the test split every N epochs (learning curves)")
    accumulate_grad_batches: int = Field(1, ge=1, le=1024, description="batches per optimiser step")


class Augment(_Strict):
    roll_ms: float = Field(125.0, ge=0, description="time roll of up to this many ms")
    freqm: int = Field(48, ge=0, description="frequency mask of up to this many mel bins")
    mixstyle_p: float = Field(0.7, ge=0, le=1)
    mixstyle_alpha: float = Field(0.3, gt=0)
    dir_p: float = Field(0.0, ge=0, le=1, description="probability of a device impulse response on device-a clips")
    dir_folder: str | None = None


class TeacherSpec(_Strict):
    model: ModelSpec
    init: str = Field("scratch", max_length=1000, description="scratch | audioset (the PaSST-S AudioSet release, "
                      "fetched with `teachers download`) | a path to a PaSST checkpoint file")  # fmt: skip
    optim: Optim = Field(default_factory=lambda: Optim(epochs=10, lr=1e-3))
    augment: Augment = Field(default_factory=Augment)
    seed: int = 0

    @model_validator(mode="after")
    def _init(self):
        from asc_core.weights import AUDIOSET, WEIGHTS

        if self.init != "scratch" and not self.model.name.startswith("passt"):
            raise ValueError(f"teacher init {self.init!r} needs a PaSST teacher; {self.model.name} trains from scratch")
        if self.init == "audioset" and self.model.name != WEIGHTS[AUDIOSET]["model"]:
            raise ValueError(f"teacher init 'audioset' is the {WEIGHTS[AUDIOSET]['model']} AudioSet release; "
                             f"{self.model.name} has another shape")  # fmt: skip
        if self.init not in ("scratch", "audioset") and not self.init.endswith((".pt", ".pth", ".ckpt")):
            raise ValueError(f"teacher init must be scratch, audioset or a checkpoint file (.pt, .pth, .ckpt), "
                             f"got {self.init!r}")  # fmt: skip
        return self


class KD(_Strict):
    lam: float = Field(0.02, ge=0, le=1, description="weight of the label loss: λ·CE + (1−λ)·KD")
    tau: float = Field(2.0, gt=0, description="temperature")
    variant: Literal["paper", "cpjku", "paper_reverse"] = Field(
        "cpjku",
        description="paper: KL(teacher‖student) per teacher, eq. 1; cpjku: their code; "
        "paper_reverse: KL(student‖teacher)",
    )
    views: int = Field(1, ge=1, description="stored teacher logits per clip (augmented views)")


class DeviceFinetune(_Strict):
    """Device-specific fine-tuning as the DCASE2025 Task 1 baseline does it (``train_device_specific.py``): a copy
    of the general model per training device, **every** parameter fine-tuned on that device's clips, 50 epochs,
    AdamW lr 5e-4 with 200 warm-up steps then cosine, weight decay 1e-4, batch 256, Freq-MixStyle off (always;
    roll and frequency masking as in general training), hard labels. Unknown devices keep the general model.
    The short setting of earlier versions is the ``quick-device`` preset."""

    enabled: bool = False
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(256, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(5e-4, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(200, ge=0, description="linear warm-up steps, then cosine to 0")
    labels: Literal["hard", "soft", "both"] = Field(
        "hard", description="hard: labels only (the baseline); soft: stored teacher logits only; both: λ·CE + (1−λ)·KD"
    )


class Budget(_Strict):
    macs: int = Field(MAX_MACS, gt=0, description="MACs per 1-s clip")
    bytes: int = Field(MAX_PARAM_BYTES, gt=0, description="parameter memory in bytes")
    precision: Literal["fp32", "fp16", "int8"] = DEFAULT_PRECISION


class Pruning(_Strict):
    mode: Literal["none", "single", "progressive"] = "none"
    chain: list[int] = Field(default_factory=list, description="target widths in order, e.g. [64, 32]")
    budget: Budget | None = Field(None, description="a final target by budget (after any chain)")
    pruner: Literal["l1", "l2"] = "l1"
    schedule: Literal["linear", "agp", "one_shot"] = "linear"
    total_times: int = Field(10, ge=1, le=1000, description="sparsity updates of the schedule")
    schedule_epochs: float = Field(
        2.0,
        gt=0,
        le=1000,
        description="epochs of KD training over which the sparsity rises to its target (NNI Linear/AGP)",
    )
    interval_steps: int | None = Field(
        None, ge=1, description="training steps between updates; default: schedule_epochs spread over total_times"
    )
    finetune_epochs: int = Field(3, ge=1)
    finetune_lr: float = Field(0.002, gt=0)

    @model_validator(mode="after")
    def _targets(self):
        n = len(self.chain) + (self.budget is not None)
        if self.mode == "none" and n:
            raise ValueError("pruning.mode is 'none' but targets are given (set mode: single or progressive)")
        if self.mode == "single" and n != 1:
            raise ValueError(
                f"pruning.mode 'single' needs exactly one target (one width in chain, or a budget), got {n}"
            )
        if self.mode == "progressive" and n < 2:
            raise ValueError(f"pruning.mode 'progressive' needs at least two targets, got {n}")
        if any(b >= a for a, b in zip(self.chain, self.chain[1:])):
            raise ValueError(f"pruning.chain must decrease, got {self.chain}")
        for w in self.chain:
            try:
                check_width(w)
            except ValueError as e:
                raise ValueError(f"pruning.chain: {e}") from None
        return self


class ExperimentConfig(_Strict):
    name: str = Field("", max_length=MAX_NAME_CHARS)
    dataset: str | None = Field(None, description="TAU22-layout folder; default: the embedded mini set")
    subset: Literal[SUBSETS] = 25
    features: str = "dcase24"
    feature_mode: Literal["cached", "on_the_fly"] = "cached"
    student: ModelSpec = Field(default_factory=ModelSpec)
    teachers: list[TeacherSpec] = Field(default_factory=list)
    kd: KD = Field(default_factory=KD)
    optim: Optim = Field(default_factory=Optim)
    augment: Augment = Field(default_factory=Augment)
    pruning: Pruning = Field(default_factory=Pruning)
    device_finetune: DeviceFinetune = Field(default_factory=DeviceFinetune)
    eval_precision: Literal["fp32", "fp16"] = "fp16"
    seed: int = 0
    accelerator: Literal["auto", "cpu", "cuda"] = "auto"
    devices: int = Field(1, ge=1)
    num_workers: int = Field(0, ge=0)

    @field_validator("features")
    @classmethod
    def _features(cls, v):
        if v not in FEATURE_PRESETS:
            raise ValueError(f"unknown feature preset {v!r}; allowed: {', '.join(FEATURE_PRESETS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.augment.dir_p > 0 and self.feature_mode == "cached":
            raise ValueError("augment.dir_p > 0 needs feature_mode: on_the_fly (impulse responses act on waveforms)")
        if self.optim.epochs == 0 and not self.student.init_from:
            raise ValueError("optim.epochs: 0 needs student.init_from (a run whose trained student to reuse)")
        if self.pruning.chain:
            if self.student.width is None:
                raise ValueError("pruning by width needs student.width (the width pruning starts from)")
            if self.pruning.chain[0] >= self.student.width:
                raise ValueError(
                    f"pruning.chain must start below student.width {self.student.width}, got {self.pruning.chain}"
                )
        return self

    @property
    def student_features(self) -> str:
        """The student's front end: the model's own preset unless ``features`` names another than the default."""
        from asc_core.models import model_features

        return model_features(self.student.name) if self.features == "dcase24" else self.features

    @property
    def student_input_shape(self) -> tuple[int, int, int, int]:
        """[1, 1, F, T] of one second of the student's input (what its MACs are counted at)."""
        return (1, 1, *FEATURE_PRESETS[self.student_features]().shape)

    def summary_head(self, run_id: str) -> dict:
        """The first keys of a finished run's summary (the runner's and the fake runs' alike)."""
        return {"run_id": run_id, "status": "done", "name": self.name, "subset": self.subset,
                "student": self.student.name, "width": self.student.width}  # fmt: skip

    def digest(self) -> str:
        return hashlib.sha1(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:12]


def choices(model: type[BaseModel], field: str) -> tuple:
    """The values a Literal field of a config part allows (what the app offers), in the schema's order."""
    from typing import get_args

    return get_args(model.model_fields[field].annotation)


def defaults(model: type[BaseModel]) -> dict:
    """A config part's defaults as plain data (the app's fallback values come from here, not from literals)."""
    return model().model_dump(mode="json")


def _set_dotted(d: dict, key: str, value):
    parts = key.split(".")
    cur = d
    for p in parts[:-1]:
        if p.isdigit() and isinstance(cur, list):
            cur = cur[int(p)]
            continue
        cur = cur.setdefault(p, {})
        if not isinstance(cur, (dict, list)):
            raise ConfigError(f"--set {key}: {p!r} is not a section")
    last = parts[-1]
    if isinstance(cur, list) and last.isdigit():
        cur[int(last)] = value
    else:
        cur[last] = value


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def _read_yaml(path: Path) -> dict:
    """A preset file's mapping, parsed once per version of the file (YAML parsing was most of a config's
    validation: the Learn page validates the tables' ~120 configs on every rerun); a copy each call."""
    st = path.stat()
    return copy.deepcopy(_parsed_yaml(str(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=64)
def _parsed_yaml(path: str, mtime_ns: int, size: int) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def load_preset(name: str) -> dict:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown preset {name!r}; allowed: {', '.join(list_presets())}")
    return _expand(_read_yaml(path))


def _expand(raw: dict) -> dict:
    if "preset" in raw:
        raw = dict(raw)
        raw = _merge(load_preset(raw.pop("preset")), raw)
    if isinstance(raw.get("teachers"), list):  # a teacher may name a recipe: {preset: passt-audioset, seed: 1}
        raw = dict(raw, teachers=[_teacher_recipe(t) for t in raw["teachers"]])
    return raw


def list_teacher_recipes() -> list[str]:
    return sorted(p.stem for p in (PRESETS_DIR / "teachers").glob("*.yaml"))


def _teacher_recipe(t):
    if not (isinstance(t, dict) and "preset" in t):
        return t
    t = dict(t)
    return _merge(teacher_recipe(t.pop("preset")), t)


def teacher_recipe(name: str) -> dict:
    """The mapping of ``assets/presets/teachers/<name>.yaml`` (model, init, optim, augment)."""
    path = PRESETS_DIR / "teachers" / f"{name}.yaml"
    if not isinstance(name, str) or not path.exists():
        raise ConfigError(f"teachers: unknown teacher recipe {name!r}; allowed: {', '.join(list_teacher_recipes())}")
    return _read_yaml(path)


def parse_config(raw: dict, overrides: list[str] | None = None) -> ExperimentConfig:
    """Validate a config dict (after ``preset:`` expansion and ``key=value`` overrides)."""
    if not isinstance(raw, dict):
        raise ConfigError("a config must be a mapping of keys to values")
    data = _expand(raw)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        _set_dotted(data, k.strip(), yaml.safe_load(v))
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def load_raw(path: str | Path) -> dict:
    """A config file's mapping, or ``{"preset": NAME}`` for a preset name; not yet validated."""
    path = Path(path)
    if not path.exists():
        if path.stem in list_presets() and not path.suffix:
            return {"preset": path.stem}
        raise ConfigError(f"config file {path} does not exist (presets: {', '.join(list_presets())})")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; a config is at most {MAX_CONFIG_BYTES:,} bytes")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({_short(str(e))})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values")
    return raw


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    return parse_config(load_raw(path), overrides)


def _short(text: str, limit: int = 120) -> str:
    """An echoed value cut to ``limit`` characters (an error never repeats a megabyte of input)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def format_validation_error(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        key = ".".join(str(x) for x in err["loc"]) or "(config)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "literal_error":
            msg = f"must be one of {err['ctx']['expected']}"
        value = err.get("input")
        if err["type"] == "missing":
            lines.append(f"{key}: required")
        elif isinstance(value, dict):  # a rule over several fields: the message names them, the dict says nothing
            lines.append(f"{key}: {msg.removeprefix('Value error, ')}")
        else:
            lines.append(f"{key}: {msg.removeprefix('Value error, ')} (got {_short(repr(value))})")
    return "invalid config — " + "; ".join(lines)
