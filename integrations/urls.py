from django.urls import path

from integrations.docker.api import DockerEventsApi
from integrations.git.api import GitEventsApi
from integrations.github.api import GitHubEventsApi
from integrations.pubsub.api import PubSubEventsApi

urlpatterns = [
    path("integrations/git/events", GitEventsApi.as_view(), name="integrations-git-events"),
    path("integrations/github/events", GitHubEventsApi.as_view(), name="integrations-github-events"),
    path("integrations/pubsub/events", PubSubEventsApi.as_view(), name="integrations-pubsub-events"),
    path("integrations/docker/events", DockerEventsApi.as_view(), name="integrations-docker-events"),
]
