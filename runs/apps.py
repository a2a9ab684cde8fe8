from django.apps import AppConfig


class RunsConfig(AppConfig):
    """The run engine every run kind shares. Kinds register themselves here (``runs.registry``); it imports none."""

    name = "runs"
    default_auto_field = "django.db.models.BigAutoField"
