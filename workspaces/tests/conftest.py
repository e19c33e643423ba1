import pytest
from allauth.mfa.models import Authenticator

from workspaces.signals import workspace_event


def give_totp(user) -> Authenticator:
    """A TOTP authenticator as allauth stores it (the secret's value does not matter here)."""
    return Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})


@pytest.fixture
def events():
    """Every workspace_event sent during the test, as (action, kwargs) tuples."""
    received = []

    def listener(sender, **kwargs):
        received.append((kwargs["action"], kwargs))

    workspace_event.connect(listener, dispatch_uid="workspaces-tests-events")
    yield received
    workspace_event.disconnect(dispatch_uid="workspaces-tests-events")
