"""The Bitbucket Connect app's installations: who added the app, and the secret its requests are signed with.

An installation arrives through the app's ``installed`` lifecycle callback (``services.installation_store``) and
leaves through ``uninstalled``. Its shared secret verifies the JWT of every request Bitbucket sends for it and signs
the app's own (the access-token grant); it is kept sealed with the server's secret key (``estafette.lib.crypt``),
never in the clear, and never shown.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from builder.secrets import open_envelope
from estafette.lib.crypt import installation_key, secret_encrypt

# Sealed for no pipeline: a job can never be handed it by a manifest that quotes the envelope.
_NO_PIPELINE = "^$"


class BitbucketInstallation(models.Model):
    client_key = models.CharField(max_length=255, unique=True, help_text="Bitbucket's id of the installation")
    app_key = models.CharField(max_length=255, help_text="the app's key it was installed as (the grant's issuer)")
    sealed_shared_secret = models.TextField(help_text="the shared secret, sealed with the server's key")
    base_url = models.CharField(max_length=512, help_text="the installation's baseUrl (Bitbucket's site)")
    principal_uuid = models.CharField(max_length=64, blank=True, default="", help_text="the workspace's {uuid}")
    principal_name = models.CharField(max_length=255, blank=True, default="")
    installed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "integrations"

    def __str__(self) -> str:
        return f"Bitbucket installation {self.client_key} ({self.principal_name or self.principal_uuid})"

    __repr__ = __str__  # the sealed secret stays out of tracebacks as well

    @property
    def shared_secret(self) -> str:
        return open_envelope(self.sealed_shared_secret, key=installation_key())[0]

    @staticmethod
    def seal(shared_secret: str) -> str:
        return secret_encrypt(value=shared_secret, allow_list=_NO_PIPELINE)

    def renew(self, *, shared_secret: str, app_key: str, base_url: str, principal_name: str) -> None:
        """A new installed callback of the same installation: its secret and names may have changed."""
        self.sealed_shared_secret = self.seal(shared_secret)
        self.app_key, self.base_url, self.principal_name = app_key, base_url, principal_name
        self.updated_at = timezone.now()
        self.save(update_fields=["sealed_shared_secret", "app_key", "base_url", "principal_name", "updated_at"])
