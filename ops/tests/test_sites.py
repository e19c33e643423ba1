from django.contrib.sites.models import Site
from django.core import mail
from django.test import override_settings

from ops.sites import site_sync


def test_migrate_leaves_our_name_and_domain_not_example_com(db):
    site = Site.objects.get(pk=1)
    assert (site.name, site.domain) == ("Lead Navigator", "localhost:8000")


@override_settings(SITE_DOMAIN="analytics.acme.test")
def test_site_sync_follows_the_setting_and_emails_use_it(db, client):
    site_sync()
    client.post(
        "/accounts/signup/",
        {"email": "new@acme.test", "password1": "plum-river-kettle-93", "password2": "plum-river-kettle-93"},
    )
    assert Site.objects.get(pk=1).domain == "analytics.acme.test"
    assert "example.com" not in mail.outbox[-1].body
    assert "analytics.acme.test" in mail.outbox[-1].body
