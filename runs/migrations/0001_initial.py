"""The log store moves from the builds app to the run engine: the same three tables, under their old names.

State only (``SeparateDatabaseAndState`` with no database operation): the tables ``builds_logrecord``,
``builds_logstep`` and ``builds_logchunk`` stay as they are, with their rows, indexes and constraints, so an existing
database migrates forward on SQLite, PostgreSQL and CockroachDB without copying a log. ``builds.0004`` drops the
models from the builds app's state. The content types follow the models (admin permissions and history keep
pointing at them).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MODELS = ("logrecord", "logstep", "logchunk")


def move_content_types(apps, schema_editor, *, source="builds", target="runs"):
    content_type = apps.get_model("contenttypes", "ContentType")
    taken = set(content_type.objects.filter(app_label=target, model__in=MODELS).values_list("model", flat=True))
    content_type.objects.filter(app_label=source, model__in=set(MODELS) - taken).update(app_label=target)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="runs", target="builds")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("builds", "0003_job_tracking"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("pipelines", "0003_search_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LogRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("run_kind", models.CharField(max_length=8)),
                        ("run_id", models.BigIntegerField()),
                        ("attempt", models.PositiveIntegerField(default=1)),
                        ("attempt_key", models.CharField(blank=True, max_length=64, null=True)),
                        ("inserted_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "pipeline",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="log_records",
                                to="pipelines.pipeline",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "builds_logrecord",
                    },
                ),
                migrations.CreateModel(
                    name="LogStep",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("parent_stage", models.CharField(blank=True, default="", max_length=256)),
                        (
                            "kind",
                            models.CharField(
                                choices=[("stage", "Stage"), ("service", "Service")], default="stage", max_length=8
                            ),
                        ),
                        ("name", models.CharField(max_length=256)),
                        ("run_index", models.PositiveIntegerField(default=0)),
                        ("depth", models.PositiveSmallIntegerField(default=0)),
                        ("position", models.PositiveIntegerField(default=0)),
                        ("image", models.JSONField(blank=True, null=True)),
                        ("duration_ns", models.BigIntegerField(blank=True, null=True)),
                        ("exit_code", models.IntegerField(blank=True, null=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("UNKNOWN", "Unknown"),
                                    ("PENDING", "Pending"),
                                    ("RUNNING", "Running"),
                                    ("SUCCEEDED", "Succeeded"),
                                    ("FAILED", "Failed"),
                                    ("SKIPPED", "Skipped"),
                                    ("CANCELED", "Canceled"),
                                ],
                                default="UNKNOWN",
                                max_length=16,
                            ),
                        ),
                        ("auto_injected", models.BooleanField(default=False)),
                        (
                            "record",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="steps", to="runs.logrecord"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "builds_logstep",
                    },
                ),
                migrations.CreateModel(
                    name="LogChunk",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("seq", models.PositiveBigIntegerField()),
                        ("entries", models.JSONField(default=list)),
                        ("line_count", models.PositiveIntegerField(default=0)),
                        ("inserted_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "record",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="chunks", to="runs.logrecord"
                            ),
                        ),
                        (
                            "step",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="runs.logstep",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "builds_logchunk",
                    },
                ),
                migrations.AddIndex(
                    model_name="logrecord",
                    index=models.Index(fields=["inserted_at"], name="log_record_inserted"),
                ),
                migrations.AddConstraint(
                    model_name="logrecord",
                    constraint=models.UniqueConstraint(
                        fields=("run_kind", "run_id", "attempt"), name="log_record_run_attempt"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="logrecord",
                    constraint=models.UniqueConstraint(
                        fields=("run_kind", "run_id", "attempt_key"), name="log_record_run_attempt_key"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="logstep",
                    constraint=models.UniqueConstraint(
                        fields=("record", "parent_stage", "kind", "name", "run_index"), name="log_step_identity"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="logchunk",
                    constraint=models.UniqueConstraint(
                        fields=("record", "seq", "step"), name="log_chunk_record_seq_step"
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back, elidable=True),
    ]
