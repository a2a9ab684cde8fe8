from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: the models are loaded only once every app's config is.
        from builds.run_kind import BuildKind
        from runs.registry import register_run_kind

        register_run_kind(BuildKind())
