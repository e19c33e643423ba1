from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("awaiting-approval/", views.awaiting_approval, name="awaiting_approval"),
]
