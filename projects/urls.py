from django.urls import path

from projects.views import projects, references, sequences, sharing, usage

urlpatterns = [
    path("", projects.dashboard, name="dashboard"),
    path("usage/", usage.usage, name="usage"),
    path("projects/new/", projects.create_project, name="create_project"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("projects/<int:pk>/members/add/", projects.add_member, name="add_member"),
    path("projects/<int:pk>/budget/", projects.set_project_budget, name="set_project_budget"),
    path("members/<int:pk>/role/", projects.change_member_role, name="change_member_role"),
    path("members/<int:pk>/remove/", projects.remove_member, name="remove_member"),
    path(
        "projects/<int:pk>/reference-sets/new/", references.create_reference_set, name="create_reference_set"
    ),
    path("reference-sets/<int:pk>/", references.reference_set_detail, name="reference_set_detail"),
    path(
        "reference-sets/<int:pk>/upload/", references.upload_reference_images, name="upload_reference_images"
    ),
    path("reference-images/<int:pk>/move/", references.move_reference_image, name="move_reference_image"),
    path(
        "reference-images/<int:pk>/delete/", references.delete_reference_image, name="delete_reference_image"
    ),
    path("reference-images/<int:pk>/file/", references.reference_image_file, name="reference_image_file"),
    path("projects/<int:pk>/sequences/new/", sequences.create_sequence, name="create_sequence"),
    path("sequences/<int:pk>/", sequences.sequence_detail, name="sequence_detail"),
    path("sequences/<int:pk>/edit/", sequences.edit_sequence, name="edit_sequence"),
    path("sequences/<int:pk>/shots/add/", sequences.add_shot, name="add_shot"),
    path("sequences/<int:pk>/start/", sequences.start_sequence, name="start_sequence"),
    path("sequences/<int:pk>/progress/", sequences.sequence_progress, name="sequence_progress"),
    path("sequences/<int:pk>/cancel/", sequences.cancel_sequence, name="cancel_sequence"),
    path(
        "sequences/<int:pk>/regenerate-stale/",
        sequences.regenerate_stale_shots,
        name="regenerate_stale_shots",
    ),
    path("sequences/<int:pk>/film/", sequences.sequence_film, name="sequence_film"),
    path("sequences/<int:pk>/poster/", sequences.sequence_poster, name="sequence_poster"),
    path("sequences/<int:pk>/share/", sharing.create_share_link, name="create_share_link"),
    path("shots/<int:pk>/edit/", sequences.edit_shot, name="edit_shot"),
    path("shots/<int:pk>/move/", sequences.move_shot, name="move_shot"),
    path("shots/<int:pk>/delete/", sequences.delete_shot, name="delete_shot"),
    path("shots/<int:pk>/retake/", sequences.retake_shot, name="retake_shot"),
    path("takes/<int:pk>/video/", sequences.take_video, name="take_video"),
    path("takes/<int:pk>/choose/", sequences.choose_take, name="choose_take"),
    path("takes/<int:pk>/fetch-again/", sequences.fetch_take_again, name="fetch_take_again"),
    path("share-links/<int:pk>/revoke/", sharing.revoke_share_link, name="revoke_share_link"),
    path("s/<str:token>/", sharing.shared_film, name="shared_film"),
    path("s/<str:token>/film/", sharing.shared_film_download, name="shared_film_download"),
    path("s/<str:token>/poster/", sharing.shared_film_poster, name="shared_film_poster"),
]
