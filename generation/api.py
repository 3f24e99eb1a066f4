"""The Python surface of the original product, kept importable where its users call it:

    from generation.api import generate_video, generate_video_sequence_with_runway_stitching

The jobs themselves are run by `generation.jobs`. Where the old guide gives a clip "up to 3 reference
images" (`file_paths_list=[[a, b, c], ...]`, more than the video model takes as keyframes), the clip
starts on a keyframe image made by gen4_image from them; a notice printed before anything is spent
says so, with its cost.
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
