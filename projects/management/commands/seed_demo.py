"""Fill an empty database with a demo admin, two staff users with budgets and a demo project."""

import io
import math

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw

from generation import credits
from projects.images import add_reference_images
from projects.models import Membership, Project, ReferenceSet, Sequence, Shot

DEMO_USERS = [
    # username, password, is_superuser, monthly credits
    ("admin", "admin-demo", True, 5000),
    ("maya", "maya-demo", False, 2000),
    ("theo", "theo-demo", False, 500),
]
ROOMS = [("Foyer", (196, 160, 120)), ("Living room", (90, 130, 170)), ("Kitchen", (120, 170, 110))]


def _demo_photo(label: str, colour: tuple[int, int, int], index: int) -> bytes:
    """A 1280x720 'photo' drawn with Pillow: a gradient room with a window and a label."""
    width, height = 1280, 720
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = 0.55 + 0.45 * (y / height)
        draw.line([(0, y), (width, y)], fill=tuple(int(c * shade) for c in colour))
    draw.polygon(
        [(0, height), (width, height), (width * 0.7, height * 0.62), (width * 0.3, height * 0.62)],
        fill=(60, 45, 35),
    )
    x = 200 + index * 260
    draw.rectangle([x, 140, x + 260, 380], fill=(225, 235, 245), outline=(250, 250, 250), width=8)
    sun = (x + 130 + int(60 * math.cos(index)), 220)
    draw.ellipse([sun[0] - 30, sun[1] - 30, sun[0] + 30, sun[1] + 30], fill=(255, 214, 120))
    draw.text((60, 60), label, fill=(255, 255, 255), font_size=64)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "On an empty database, create demo users with budgets and a demo project, and print the logins."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.exists():
            self.stdout.write("Users exist already; no demo data added.")
            return
        with transaction.atomic():
            users = {}
            for username, password, is_superuser, monthly in DEMO_USERS:
                if is_superuser:
                    user = User.objects.create_superuser(username, f"{username}@example.com", password)
                else:
                    user = User.objects.create_user(username, f"{username}@example.com", password)
                credits.set_monthly_limit(user, credits=monthly)
                users[username] = user
            project = Project.objects.create(name="Harbour House walkthrough", created_by=users["maya"])
            Membership.objects.create(project=project, user=users["maya"], role=Membership.Role.OWNER)
            Membership.objects.create(project=project, user=users["theo"], role=Membership.Role.VIEWER)
            Membership.objects.create(project=project, user=users["admin"], role=Membership.Role.EDITOR)
            reference_set = ReferenceSet.objects.create(project=project, name="Ground floor")
            uploads = [
                SimpleUploadedFile(
                    f"{label.lower().replace(' ', '-')}.jpg", _demo_photo(label, colour, index)
                )
                for index, (label, colour) in enumerate(ROOMS)
            ]
            add_reference_images(reference_set, files=uploads)
            sequence = Sequence.objects.create(
                project=project,
                title="Ground floor tour",
                model="veo3.1_fast",
                ratio="1280:720",
                is_stitched=True,
                has_audio=False,
                reference_set=reference_set,
                created_by=users["maya"],
            )
            images = list(reference_set.images.all())
            prompts = [
                "Start in the foyer, slow pan right revealing the stairs",
                "Dolly into the living room, pan left to the sofas",
                "Continue to the kitchen, glide past the island to the window",
            ]
            for position, prompt in enumerate(prompts):
                Shot.objects.create(
                    sequence=sequence,
                    position=position,
                    prompt=prompt,
                    duration=4,
                    first_frame=Shot.FirstFrame.REFERENCE if position == 0 else Shot.FirstFrame.PREVIOUS,
                    first_frame_image=images[0] if position == 0 else None,
                    last_frame_image=images[position + 1] if position + 1 < len(images) else None,
                )
        self.stdout.write(self.style.SUCCESS("Demo data created. Log in at http://127.0.0.1:8000/ with:"))
        for username, password, is_superuser, monthly in DEMO_USERS:
            role = "admin (Django admin at /admin/)" if is_superuser else "staff"
            self.stdout.write(f"  {username:<6} / {password:<11} {role}, {monthly} credits a month")
