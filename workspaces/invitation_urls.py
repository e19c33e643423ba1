"""The invitee's side: /invitations/<token>/. Not under /w/: the visitor is not a member yet."""

from django.urls import path

from workspaces import views

app_name = "invitations"
urlpatterns = [
    path("continue/", views.invitation_continue, name="continue"),
    path("<str:token>/", views.invitation_detail, name="detail"),
    path("<str:token>/reject/", views.invitation_reject, name="reject"),
    path("<str:token>/signup/", views.invitation_signup, name="signup"),
    path("<str:token>/signin/", views.invitation_signin, name="signin"),
]
