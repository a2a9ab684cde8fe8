from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pipelines.read_model import register_read_model_part
        from pipelines.trigger_index import TriggerIndexPart
        from pipelines.triggers import trigger_named_events
        from runs.registry import register_job_events

        register_job_events(
            lambda manifest, pipeline, fired: trigger_named_events(
                manifest=manifest, pipeline_full_name=pipeline, fired=fired
            )
        )
        register_read_model_part(TriggerIndexPart())
