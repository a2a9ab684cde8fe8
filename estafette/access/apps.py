from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "estafette.access"
    label = "access"
    verbose_name = "Identity and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from estafette.access.audit import audit_sweeper_task
        from estafette.queue.process import register_task

        register_task("audit", audit_sweeper_task)  # a worker process can sweep the audit trail beside its consumers
