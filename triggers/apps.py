from django.apps import AppConfig


class TriggersConfig(AppConfig):
    """The trigger engine: what turns events (pushes, runs starting or finishing, cron ticks…) into runs."""

    name = "triggers"
    default_auto_field = "django.db.models.BigAutoField"
