"""Keep django.contrib.sites' one row in line with the settings.

allauth writes the Site's name and domain into emails ("…an account on example.com"), so after
every `migrate` the row gets SITE_NAME and SITE_DOMAIN instead of Django's example.com default.
"""

from django.conf import settings


def site_sync(*, using: str = "default") -> None:
    from django.contrib.sites.models import Site

    Site.objects.using(using).update_or_create(
        pk=settings.SITE_ID, defaults={"domain": settings.SITE_DOMAIN, "name": settings.SITE_NAME}
    )
    Site.objects.clear_cache()


def site_sync_after_migrate(sender, using: str = "default", **kwargs) -> None:
    site_sync(using=using)
