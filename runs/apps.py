from django.apps import AppConfig


class RunsConfig(AppConfig):
    """The run engine every run kind shares. Kinds register themselves here (``runs.registry``); it imports none."""

    name = "runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from estafette.queue.process import register_task
        from runs.sweeper import sweeper_task

        register_task("sweeper", sweeper_task)  # a worker process can run the sweeper beside its consumers
