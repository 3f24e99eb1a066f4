"""The Python surface of the original product, kept importable where its users call it:

    from generation.api import generate_video, generate_video_sequence_with_runway_stitching

The jobs themselves are run by `generation.jobs`.
"""

from generation.jobs import (
    JobError,
    JobResult,
    generate_video,
    generate_video_sequence_with_runway_stitching,
    run_job,
)

__all__ = [
    "JobError",
    "JobResult",
    "generate_video",
    "generate_video_sequence_with_runway_stitching",
    "run_job",
]
