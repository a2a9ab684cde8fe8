from django.apps import AppConfig


class MigrateFromEstafetteConfig(AppConfig):
    """``manage.py import_estafette``: an existing Estafette installation's database imported here."""

    name = "migrate_from_estafette"
    default_auto_field = "django.db.models.BigAutoField"
