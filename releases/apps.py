from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: the models are loaded only once every app's config is.
        from pipelines.read_model import register_read_model_part
        from pipelines.run_views import register_active_release_view
        from releases.read_model import ReleasesReadModel
        from releases.run_kinds import BotKind, ReleaseKind
        from releases.selectors import pipeline_active_releases
        from runs.registry import register_run_kind

        register_run_kind(ReleaseKind())
        register_run_kind(BotKind())
        register_read_model_part(ReleasesReadModel())
        register_active_release_view("releases.serializers.ActiveReleaseSerializer", load=pipeline_active_releases)
