"""What a person can pick to run a list: one of the five modes, or the pipeline (a thread pool whose
finished files each go through the CPU stage). Everything else asks here rather than comparing names."""

from __future__ import annotations

from engine.modes import MODES
from engine.stage import StageConfig

PIPELINE = "pipeline"
PIPELINE_LABEL = "pipeline (thread pool + process pool)"
PIPELINE_DESCRIPTION = (
    "Downloads run in a thread pool; each finished file is then hashed (SHA-256, checked against the "
    "download) and image files thumbnailed in a pool of processes, one per CPU."
)
DOWNLOAD_MODE = "thread-pool"  # the mode the pipeline's downloads run in
CHOICES = (*MODES, PIPELINE)


def download_mode(choice: str) -> str:
    """The mode the downloads of a choice run in."""
    return DOWNLOAD_MODE if choice == PIPELINE else choice


def stage_for(choice: str, cpu_rounds: int = 0) -> StageConfig | None:
    """The stage a choice puts its files through, or None."""
    return StageConfig(cpu_rounds=cpu_rounds) if choice == PIPELINE else None


def choice_label(choice: str) -> str:
    """'Thread pool', …, 'pipeline (thread pool + process pool)'."""
    return PIPELINE_LABEL if choice == PIPELINE else MODES[choice].label


def choice_description(choice: str) -> str:
    return PIPELINE_DESCRIPTION if choice == PIPELINE else MODES[choice].description
