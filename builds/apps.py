from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from builds.run_kinds import register_build_kind

        register_build_kind()
        import builds.job_consumers  # noqa: F401 — registers the jobs-stop consumer
