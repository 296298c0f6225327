"""The pipeline choice: downloads in a thread pool, and each finished file through the CPU stage."""

from __future__ import annotations

PIPELINE = "pipeline"
PIPELINE_LABEL = "pipeline (thread pool + process pool)"
PIPELINE_DESCRIPTION = (
    "Downloads run in a thread pool; each finished file is then hashed (SHA-256, checked against the "
    "download) and image files thumbnailed in a pool of processes, one per CPU."
)
DOWNLOAD_MODE = "thread-pool"  # the mode the pipeline's downloads run in
