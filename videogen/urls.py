from django.contrib import admin
from django.urls import include, path

from projects import accounts
from projects.views import projects as project_views

# Media (films, takes, posters, reference images) are never served from MEDIA_URL, in any mode: only
# the views that check project membership or a share link serve them (projects/views/).
urlpatterns = [
    # Before admin.site.urls, so that the admin's sign-in is throttled like the studio's.
    path("admin/login/", accounts.admin_login),
    path("admin/", admin.site.urls),
    path("accounts/login/", accounts.login, name="login"),
    path("accounts/password_reset/", accounts.password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("sequences/<int:pk>/seen/", project_views.sequence_seen, name="sequence_seen"),
    path("", include("projects.urls")),
]
