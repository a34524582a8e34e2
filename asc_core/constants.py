"""The task's fixed facts and the product's limits, in one place. Everything else imports them from here.

DCASE2024/2025 Task 1: 32 kHz one-second clips, ten scenes, the five nested training subsets, the complexity
budget per 1-s clip (torchinfo MACs; parameter bytes at the deployed precision). The scene, device and city
label sets (exact meta.csv strings) are in ``asc_core.data.labels``.
"""

from __future__ import annotations

SAMPLE_RATE = 32000  # Hz: every clip is read as mono float32 at this rate
CLIP_SECONDS = 1.0
SUBSETS = (5, 10, 25, 50, 100)  # % of the DCASE2024 development training set (split5 … split100)
N_CLASSES = 10

MAX_MACS = 30_000_000  # per 1-s clip
MAX_PARAM_BYTES = 128_000
DEFAULT_PRECISION = "fp16"  # the precision the budget is checked at unless a config says otherwise

WIDTH_STEP = 8  # a student's base channels: a multiple of 8 …
MIN_WIDTH, MAX_WIDTH = 8, 256  # … in this range (256 is 8× the DCASE-sized width-32 networks)
STUDENT_WIDTHS = (32, 48, 64, 80, 96)  # the widths the app offers

MAX_CONFIG_BYTES = 64_000  # a config file or an edited YAML (the largest preset is ~2 KB)
MAX_NAME_CHARS = 200  # a run's or a group's name
UPLOAD_LIMIT_BYTES = 50_000_000  # Try it: one uploaded clip (also .streamlit/config.toml's maxUploadSize, in MB)

RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
RESUMABLE_STATUSES = ("interrupted", "cancelled", "failed")


def check_width(width) -> int:
    """The width rule: a multiple of 8 between MIN_WIDTH and MAX_WIDTH; raises ValueError saying so."""
    if (
        not isinstance(width, int)
        or isinstance(width, bool)
        or width % WIDTH_STEP
        or not MIN_WIDTH <= width <= MAX_WIDTH
    ):
        raise ValueError(
            f"width must be a multiple of {WIDTH_STEP} from {MIN_WIDTH} to {MAX_WIDTH} "
            f"(e.g. {', '.join(map(str, STUDENT_WIDTHS))}), got {width!r}"
        )
    return width


class Cancelled(Exception):
    """The user asked the run to stop (at a cancel point: a batch, a pruning step); its checkpoint is saved. Here,
    below every package, so training and pruning raise the same one."""


class Deferred(Exception):
    """A worker's run, waiting for a teacher or a pruning parent that another run is training, gives its worker back
    because a queued run can train at once: it goes back to the queue (status ``queued``). Nothing it did is lost: a
    teacher it trained is in the zoo, and no student has trained before such a wait."""
