"""The original product's command line, kept working: `python manage.py image2video --backend runway ...`.

Flags follow the old guide (../shared/runway-product-guide.md). Where the guide and Runway's real API
differ, the guide's words are accepted and translated, and a notice says what changed.
"""

import glob
import os
import shutil
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import catalog, credits, jobs, pipeline, runway

# What a job raises with a message meant for the user.
JOB_REFUSALS = (
    jobs.JobError,
    catalog.UnsupportedRequest,
    credits.InsufficientCredits,
    pipeline.PipelineError,
)


class Command(BaseCommand):
    help = "Generate Runway video clips from a prompt and images (the original image2video.py)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", nargs="?", help="The prompt of a single clip.")
        parser.add_argument("--backend", default="runway", help="Only 'runway' is supported.")
        parser.add_argument("--list-models", action="store_true", help="List the models and exit.")
        parser.add_argument(
            "--model", default=None, help="Model id (default: RUNWAY_MODEL, else gen4_turbo)."
        )
        parser.add_argument("-i", "--images", default="", help="Images: a comma-separated list or a glob.")
        parser.add_argument(
            "-p", "--prompts", nargs="+", default=None, help="Several prompts, one clip each."
        )
        parser.add_argument("--duration", type=float, default=None, help="Seconds per clip.")
        parser.add_argument("--width", type=int, default=None)
        parser.add_argument("--height", type=int, default=None)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--stitch", action="store_true", help="Start each clip on the last frame of the one before."
        )
        parser.add_argument("--no-audio", action="store_true", help="Veo: generate without audio (cheaper).")
        parser.add_argument(
            "--keyframes-from-references",
            action="store_true",
            help=(
                f"Make each clip's first frame with {jobs.KEYFRAME_MODEL} from the -i images (up to "
                f"{catalog.IMAGE_MODELS[jobs.KEYFRAME_MODEL].max_references}), each tagged by its file stem, "
                "which a prompt may cite as @tag; the first image made is used. With --stitch only the first "
                "clip's, and each later clip goes on from the last frame of the one before."
            ),
        )
        parser.add_argument(
            "--fit",
            choices=["pad", "crop"],
            default="pad",
            help="Images wider than 2:1 or taller than 1:2: pad with bars (default) or crop.",
        )
        parser.add_argument(
            "--user", default=None, help="Whose credit budget pays (default: the only superuser)."
        )
        parser.add_argument("--output-dir", default=".", help="Where runway_clip_N.mp4 files are written.")
        parser.add_argument("--output", default="runway_final.mp4", help="File name of the assembled film.")
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Replace output files that already exist (a symbolic link is replaced, never written through).",
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Do not ask before spending credits (required when standard input is not a terminal).",
        )

    def handle(self, *args, **o) -> None:
        if o["backend"] != "runway":
            raise CommandError(f"Backend {o['backend']!r} is not available here; use --backend runway.")
        if o["list_models"]:
            self._list_models()
            return
        prompts = o["prompts"] or ([o["prompt"]] if o["prompt"] else [])
        if o["prompts"] and o["prompt"]:
            prompts = [o["prompt"], *o["prompts"]]
        if not prompts:
            raise CommandError('Give a prompt: image2video --backend runway "A slow pan over the harbour".')
        if (o["width"] is None) != (o["height"] is None):
            raise CommandError("Give both --width and --height, or neither.")
        images = self._images(o["images"])
        keyframes = None
        if o["keyframes_from_references"]:
            keyframes = self._keyframes(images, len(prompts), stitch=o["stitch"])
        if not o["yes"] and not sys.stdin.isatty():
            raise CommandError(
                "Standard input is not a terminal, so the spend cannot be confirmed here; "
                "pass --yes to spend without asking."
            )
        confirm = None if o["yes"] else self._confirm
        output_dir = Path(o["output_dir"])
        film_name = o["output"] if len(prompts) > 1 or o["stitch"] else None
        targets = [output_dir / jobs.clip_name(position) for position in range(len(prompts))]
        if film_name:
            targets.append(output_dir / film_name)
        # Before anything is held: a job that could not write its files must not spend.
        self._check_targets(targets, output_dir=output_dir, overwrite=o["overwrite"])
        output_dir.mkdir(parents=True, exist_ok=True)
        # The job writes into a private directory; the files are then put in place here, so that a
        # file that appears while the job runs is not overwritten either.
        staging = Path(tempfile.mkdtemp(prefix=".image2video-", dir=output_dir))
        try:
            result = jobs.run_job(
                prompts=prompts,
                images=images,
                model=o["model"] or settings.RUNWAY_MODEL,
                duration=o["duration"],
                width=o["width"],
                height=o["height"],
                seed=o["seed"],
                stitch=o["stitch"],
                audio=not o["no_audio"],
                fit=o["fit"],
                user=o["user"],
                output_dir=staging,
                film_name="film.mp4" if film_name else None,
                progress=self.stdout.write,
                confirm=confirm,
                keyframes=keyframes,
            )
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, JOB_REFUSALS):
                raise CommandError(str(exc)) from exc
            if isinstance(exc, runway.RunwayError):
                raise CommandError(f"Runway: {exc}") from exc
            raise
        clips = [output_dir / clip.name for clip in result.clips]
        film = output_dir / film_name if result.film else None
        placed = list(zip(result.clips, clips, strict=True))
        if film:
            placed.append((result.film, film))
        for staged, target in placed:
            try:
                with staged.open("rb") as src:
                    jobs.write_output(src, target, overwrite=o["overwrite"])
            except jobs.OutputExists as exc:
                raise CommandError(f"{exc} The new file is kept at {staged}.") from None
        shutil.rmtree(staging, ignore_errors=True)
        for clip in clips:
            self.stdout.write(f"Wrote {clip}")
        if film:
            self.stdout.write(f"Wrote {film} ({result.sequence.film_duration:.1f} s, {len(clips)} clips)")
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {pipeline.charges_of(result.sequence).words} (estimate {result.estimated_credits})."
            )
        )

    def _keyframes(self, images: list[Path], count: int, *, stitch: bool) -> list[list[int]]:
        """Each clip's keyframe images (indexes into `images`): all clips', or with --stitch the first's."""
        most = catalog.IMAGE_MODELS[jobs.KEYFRAME_MODEL].max_references
        if not images:
            raise CommandError("--keyframes-from-references makes keyframes from images: give them with -i.")
        if len(images) > most:
            raise CommandError(
                f"{jobs.KEYFRAME_MODEL} makes a keyframe from at most {most} reference images; "
                f"you gave {len(images)}. Give at most {most} with -i."
            )
        wanted = list(range(len(images)))
        if stitch:
            return [wanted] + [[] for _ in range(count - 1)]
        return [wanted for _ in range(count)]

    def _images(self, spec: str) -> list[Path]:
        paths: list[Path] = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            # A file whose name looks like a pattern ("photo[1].jpg") is that file, not a pattern.
            if os.path.lexists(part) or not glob.has_magic(part):
                matches = [part]
            else:
                matches = sorted(glob.glob(part))
            if not matches:
                raise CommandError(f"No file is named {part!r} and, as a pattern, it matches no file.")
            for match in matches:
                path = Path(match)
                if not path.is_file():
                    raise CommandError(f"Image not found: {path}")
                paths.append(path)
        return paths

    def _check_targets(self, targets: list[Path], *, output_dir: Path, overwrite: bool) -> None:
        for target in targets:
            # The output directory itself is made when missing, as the old product did.
            if target.parent != output_dir and not target.parent.is_dir():
                raise CommandError(f"The directory of {target} does not exist.")
            if target.is_symlink():
                if not overwrite:
                    raise CommandError(
                        f"{target} is a symbolic link; pass --overwrite to replace the link itself "
                        "(what it points to is never written)."
                    )
            elif target.is_dir():
                raise CommandError(f"{target} is a directory; choose another output name.")
            elif target.exists() and not overwrite:
                raise CommandError(f"{target} already exists; pass --overwrite to replace it.")

    def _confirm(self, estimate: int, summary: credits.MonthSummary) -> bool:
        answer = input(f"Spend up to {estimate} credits ({summary.available} available)? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    def _list_models(self) -> None:
        self.stdout.write("Available models for backend 'runway':")
        for m in catalog.describe_models():
            default = " (default)" if m["id"] == (settings.RUNWAY_MODEL or catalog.DEFAULT_MODEL) else ""
            kinds = ["image-to-video"] + (["text-to-video"] if m["has_text_to_video"] else [])
            if m["has_last_frame"]:
                kinds.append("first+last frame")
            price = f"{m['credits_per_second']} credits/s"
            if m["has_audio"]:
                price = (
                    f"{m['credits_per_second']} credits/s with audio, {m['credits_per_second_silent']} silent"
                )
            aliases = f" (guide name: {', '.join(m['aliases'])})" if m["aliases"] else ""
            self.stdout.write(f"  - {m['id']}{default}{aliases}: {m['label']}")
            self.stdout.write(
                f"      durations {', '.join(map(str, m['durations']))} s; {price}; {', '.join(kinds)}"
            )
            for endpoint, ratios in m["ratios"].items():
                self.stdout.write(f"      {endpoint} ratios: {' '.join(ratios)}")
        for alias, (target, why) in catalog.ALIASES.items():
            self.stdout.write(f"  Note: {alias} -> {target}: {why}")
