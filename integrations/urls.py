from django.urls import path

from integrations.cloudsource.api import CloudSourceEventsApi
from integrations.docker.api import DockerEventsApi
from integrations.git.api import GitEventsApi
from integrations.github.api import GitHubEventsApi
from integrations.pubsub.api import PubSubEventsApi
from integrations.slack.api import SlackSlashApi

urlpatterns = [
    path("integrations/git/events", GitEventsApi.as_view(), name="integrations-git-events"),
    path("integrations/github/events", GitHubEventsApi.as_view(), name="integrations-github-events"),
    path("integrations/pubsub/events", PubSubEventsApi.as_view(), name="integrations-pubsub-events"),
    path("integrations/docker/events", DockerEventsApi.as_view(), name="integrations-docker-events"),
    path("integrations/cloudsource/events", CloudSourceEventsApi.as_view(), name="integrations-cloudsource-events"),
    path("integrations/slack/slash", SlackSlashApi.as_view(), name="integrations-slack-slash"),
]
