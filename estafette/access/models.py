"""Who may do what: Estafette's organizations, groups, users' identities and roles, API clients, and the audit trail.

Users stay Django's own (``settings.AUTH_USER_MODEL``: local password logins, the admin and sessions keep working);
what Estafette adds to a user (its roles, groups, organizations, identities at login providers, the provider and
organization of its last login) is kept in ``Account``, one per user, made on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

CLIENT_SECRET_BYTES = 32


def secret_digest(secret: str) -> str:
    """SHA-256 of a client secret: 256 random bits, out of reach of any guessing, so no slow hash is needed (the same
    reasoning as ``estafette.apitokens.models``)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Organization(models.Model):
    name = models.CharField(max_length=256, unique=True)
    roles = models.JSONField(default=list, blank=True, help_text="roles every member holds")
    active = models.BooleanField(default=True)
    inserted_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    name = models.CharField(max_length=256, unique=True)
    description = models.TextField(blank=True, default="")
    roles = models.JSONField(default=list, blank=True, help_text="roles every member holds")
    organizations = models.ManyToManyField(Organization, blank=True, related_name="groups")
    active = models.BooleanField(default=True)
    inserted_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """Estafette's part of a user (``contracts.User``): own roles, memberships, last login's provider/organization."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    roles = models.JSONField(default=list, blank=True)
    groups = models.ManyToManyField(Group, blank=True, related_name="members")
    organizations = models.ManyToManyField(Organization, blank=True, related_name="members")
    current_provider = models.CharField(max_length=64, blank=True, default="")
    current_organization = models.CharField(max_length=256, blank=True, default="")
    preferences = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"account of {self.user}"


class Identity(models.Model):
    """The user as one login provider knows them (``{provider, id, email, name, avatar}``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities")
    provider = models.CharField(max_length=64)
    subject = models.CharField(max_length=256, help_text="the provider's id of the user (OpenID Connect 'sub')")
    email = models.CharField(max_length=256, blank=True, default="")
    name = models.CharField(max_length=256, blank=True, default="")
    avatar = models.URLField(max_length=1024, blank=True, default="")

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["provider", "subject"], name="identity_per_provider")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.email or self.subject}"


class Client(models.Model):
    """An API client (a machine account): logs in with its id and secret for a short-lived token."""

    name = models.CharField(max_length=256, unique=True)
    client_id = models.CharField(max_length=64, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    roles = models.JSONField(default=list, blank=True)
    organizations = models.ManyToManyField(Organization, blank=True, related_name="clients")
    active = models.BooleanField(default=True)
    inserted_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def set_new_secret(self) -> str:
        """Give this client a new secret (and, when it has none, an id); returns the secret, which is not kept."""
        if not self.client_id:
            self.client_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(CLIENT_SECRET_BYTES)
        self.secret_digest = secret_digest(secret)
        return secret

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_digest, secret_digest(secret))


class ActorKind(models.TextChoices):
    USER = "user"
    CLIENT = "client"
    JOB = "job"
    TRIGGER = "trigger"
    ANONYMOUS = "anonymous"


class AuditEntry(models.Model):
    """One change: who (a user, an API client, a job or a trigger), what, to which object, when, from where."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor = models.CharField(max_length=256, help_text="email of a user, id of a client, name of a trigger")
    action = models.CharField(max_length=64, help_text="the permission exercised, e.g. ci.builds.cancel")
    method = models.CharField(max_length=8, blank=True, default="")
    path = models.CharField(max_length=1024, blank=True, default="")
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=512, blank=True, default="")
    address = models.GenericIPAddressField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="the HTTP answer")

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ("-at", "-id")
        indexes = [models.Index(fields=["actor_kind", "actor", "-at"], name="audit_actor")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_type} {self.object_id}"
