from django.urls import path

from integrations.git.api import GitEventsApi

urlpatterns = [
    path("integrations/git/events", GitEventsApi.as_view(), name="integrations-git-events"),
]
