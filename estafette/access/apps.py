from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "estafette.access"
    label = "access"
    verbose_name = "Identity and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from estafette.access import schema  # noqa: F401 - registers the OpenAPI description of client tokens
