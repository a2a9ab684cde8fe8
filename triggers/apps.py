from django.apps import AppConfig


class TriggersConfig(AppConfig):
    """The trigger engine: what turns events (pushes, runs starting or finishing, cron ticks…) into runs."""

    name = "triggers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: the models are loaded only once every app's config is. (The consumers in
        # triggers/consumers.py register themselves when the queue looks for every app's consumers module.)
        from pipelines.read_model import register_read_model_part
        from runs.registry import register_clone_credentials, register_job_events
        from triggers.index import TriggerIndexPart
        from triggers.reports import clone_credentials_of
        from triggers.services import job_events_of_named_triggers

        register_read_model_part(TriggerIndexPart())
        register_job_events(job_events_of_named_triggers)
        register_clone_credentials(clone_credentials_of)
