import secrets

import factory
from django.conf import settings
from django.utils import timezone

from accounts.tests.factories import UserFactory
from workspaces.models import Invitation, Membership, Role, Workspace, invitation_token_hash


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")
    created_by = None


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class InvitationFactory(factory.django.DjangoModelFactory):
    """An invitation; the raw token is on `.token` (only its hash is stored)."""

    class Meta:
        model = Invitation

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.ANALYST
    invited_by = None
    token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    token_hash = factory.LazyAttribute(lambda o: invitation_token_hash(o.token))
    expires_at = factory.LazyFunction(lambda: timezone.now() + settings.INVITATION_TTL)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token = kwargs.pop("token")
        obj = super()._create(model_class, *args, **kwargs)
        obj.token = token
        return obj
