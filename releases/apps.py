from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: the models are loaded only once every app's config is.
        from releases.run_kinds import BotKind, ReleaseKind
        from runs.registry import register_run_kind

        register_run_kind(ReleaseKind())
        register_run_kind(BotKind())
