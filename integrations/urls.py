from django.urls import path

from integrations.bitbucket.api import (
    BitbucketDescriptorApi,
    BitbucketEventsApi,
    BitbucketInstalledApi,
    BitbucketUninstalledApi,
)
from integrations.cloudsource.api import CloudSourceEventsApi
from integrations.docker.api import DockerEventsApi
from integrations.git.api import GitEventsApi
from integrations.github.api import GitHubEventsApi
from integrations.pubsub.api import PubSubEventsApi
from integrations.slack.api import SlackSlashApi

urlpatterns = [
    path("integrations/git/events", GitEventsApi.as_view(), name="integrations-git-events"),
    path("integrations/github/events", GitHubEventsApi.as_view(), name="integrations-github-events"),
    path("integrations/bitbucket/events", BitbucketEventsApi.as_view(), name="integrations-bitbucket-events"),
    path(
        "integrations/bitbucket/descriptor", BitbucketDescriptorApi.as_view(), name="integrations-bitbucket-descriptor"
    ),
    path("integrations/bitbucket/installed", BitbucketInstalledApi.as_view(), name="integrations-bitbucket-installed"),
    path(
        "integrations/bitbucket/uninstalled",
        BitbucketUninstalledApi.as_view(),
        name="integrations-bitbucket-uninstalled",
    ),
    path("integrations/pubsub/events", PubSubEventsApi.as_view(), name="integrations-pubsub-events"),
    path("integrations/docker/events", DockerEventsApi.as_view(), name="integrations-docker-events"),
    path("integrations/cloudsource/events", CloudSourceEventsApi.as_view(), name="integrations-cloudsource-events"),
    path("integrations/slack/slash", SlackSlashApi.as_view(), name="integrations-slack-slash"),
]
