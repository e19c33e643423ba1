from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("awaiting-approval/", views.awaiting_approval, name="awaiting_approval"),
    path("profile/", views.profile, name="profile"),
    # Under login/code/ next to allauth's own login-by-code URLs; accounts.urls is
    # included before allauth.urls, and allauth has no "login/code/link/".
    path("login/code/link/", views.login_code_link, name="login_code_link"),
]
