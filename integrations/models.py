"""The integrations' tables (each kind keeps its models in its own folder)."""

from integrations.bitbucket.models import BitbucketInstallation

__all__ = ["BitbucketInstallation"]
