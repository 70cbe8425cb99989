from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from teacher_pages import views

app_name = "teachers"

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="teachers/login.html", next_page=reverse_lazy("teachers:override-new")
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(template_name="teachers/logged_out.html"), name="logout"),
    path("teacher/", views.start, name="start"),
    path("teacher/override/", views.override_new, name="override-new"),
    path("teacher/overrides/", views.overrides, name="overrides"),
    path("teacher/overrides/<int:pk>/", views.override_detail, name="override-detail"),
]
