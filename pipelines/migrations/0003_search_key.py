"""``Pipeline.search_key`` = lower("source/owner/name") and the listing index that carries it.

The key is a stored generated column: adding it makes the database compute it for every existing
row (PostgreSQL rewrites the table, CockroachDB backfills the column, Django rebuilds the SQLite
table), so the backfill needs no Python loop and cannot miss a row. The new index is built before
the old one is dropped, so the default list is never left without its covering index (CockroachDB
runs schema changes outside the migration's transaction).
"""

import django.db.models.functions.text
from django.db import migrations, models

import estafette.lib.expressions


class Migration(migrations.Migration):
    dependencies = [
        ("builds", "0003_job_tracking"),
        ("pipelines", "0002_repo_url_and_trigger_facets"),
    ]

    operations = [
        migrations.AddField(
            model_name="pipeline",
            name="search_key",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Lower(
                    estafette.lib.expressions.PipesConcat(
                        "repo_source", models.Value("/"), "repo_owner", models.Value("/"), "repo_name"
                    )
                ),
                output_field=models.CharField(max_length=770),
            ),
        ),
        migrations.AddIndex(
            model_name="pipeline",
            index=models.Index(
                fields=["archived", "repo_source", "repo_owner", "repo_name", "latest_build", "id", "search_key"],
                name="pipeline_listing_search",
            ),
        ),
        migrations.RemoveIndex(
            model_name="pipeline",
            name="pipeline_listing",
        ),
    ]
