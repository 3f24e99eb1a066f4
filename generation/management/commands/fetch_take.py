from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import jobs, pipeline
from generation.models import Take


class Command(BaseCommand):
    help = (
        "Download again the clip of a take that Runway made and charged for but that could not be "
        "saved. It is not charged twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "take", type=int, help="The take's number (the command line and the pages name it)."
        )
        parser.add_argument(
            "--output-dir", default=".", help="Where to write runway_clip_N.mp4 (default: here)."
        )

    def handle(self, *args, take: int, output_dir: str, **options) -> None:
        row = Take.objects.select_related("shot").filter(pk=take).first()
        if row is None:
            raise CommandError(f"No take {take}.")
        with jobs.runway_for_job():
            try:
                pipeline.fetch_take_again(row)
            except pipeline.PipelineError as exc:
                raise CommandError(str(exc)) from exc
        row.refresh_from_db()
        if row.status != Take.Status.SUCCEEDED:
            raise CommandError(f"The clip could not be fetched: {row.failure_message}")
        path = Path(output_dir) / f"runway_clip_{row.shot.position + 1}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        with row.output.open("rb") as src:
            path.write_bytes(src.read())
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} (already paid: {row.cost_credits} credits)."))
