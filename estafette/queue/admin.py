from django.contrib import admin

from estafette.queue.models import DeadLetter, OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "subject", "dedup_key", "created_at", "attempts", "sent_at")
    list_filter = ("subject",)
    search_fields = ("dedup_key",)
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("id", "consumer", "subject", "event_id", "deliveries", "created_at")
    list_filter = ("consumer", "subject")
    search_fields = ("event_id", "reason")
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
