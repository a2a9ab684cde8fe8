from django.apps import AppConfig


class QueueConfig(AppConfig):
    name = "estafette.queue"
    label = "queue"
    verbose_name = "Queue (NATS JetStream)"
    default_auto_field = "django.db.models.BigAutoField"
