from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from projects import accounts

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", accounts.login, name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("projects.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
