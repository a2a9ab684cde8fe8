"""The log store now belongs to the run engine (``runs.0001_initial``): the models leave this app's state only.

No database operation: the tables keep their names and rows (``LogRecord.Meta.db_table``).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("builds", "0003_job_tracking"),
        ("runs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="logrecord", name="pipeline"),
                migrations.RemoveField(model_name="logstep", name="record"),
                migrations.DeleteModel(name="LogChunk"),
                migrations.DeleteModel(name="LogRecord"),
                migrations.DeleteModel(name="LogStep"),
            ],
            database_operations=[],
        ),
    ]
