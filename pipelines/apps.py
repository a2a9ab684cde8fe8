from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from estafette.access.scopes import register_pipeline_scope
        from pipelines.selectors import pipeline_scope_of

        register_pipeline_scope(pipeline_scope_of)
