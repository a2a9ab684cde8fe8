from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: the models are loaded only once every app's config is.
        from builds.read_model import BuildsReadModel
        from builds.run_kind import BuildKind
        from pipelines.read_model import register_read_model_part
        from pipelines.run_views import register_latest_build_view
        from runs.registry import register_run_kind

        register_run_kind(BuildKind())
        register_read_model_part(BuildsReadModel())
        register_latest_build_view("builds.serializers.BuildSerializer")
