import pytest
from django.http import QueryDict

from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.lib.listing import capped_count, page_of, parse_list_query


def query(raw: str, **options: object):
    defaults = {"filters": ("status",), "sort_fields": ("inserted_at", "repo_name"), "default_sort": ("-inserted_at",)}
    return parse_list_query(QueryDict(raw), **{**defaults, **options})


def test_it_appends_only_the_tie_breakers_the_sort_does_not_name() -> None:
    assert query("").order_by == ("-inserted_at", "-id")
    assert query("sort=repo_name", tie_breaker=("repo_name", "id")).order_by == ("repo_name", "id")
    assert query("sort=-repoName,insertedAt").order_by == ("-repo_name", "inserted_at", "-id")


@pytest.mark.django_db
def test_it_stops_counting_at_the_cap() -> None:
    pipeline = make_pipeline()
    for _ in range(3):
        make_build(pipeline)
    assert capped_count(Build.objects.all(), cap=2) == 2
    assert capped_count(Build.objects.all(), cap=10) == 3


@pytest.mark.django_db
def test_it_pages_without_overlap_in_the_requested_order() -> None:
    pipeline = make_pipeline()
    builds = [make_build(pipeline) for _ in range(5)]

    pages = [page_of(Build.objects.all(), query(f"page[size]=2&page[number]={n}&sort=insertedAt")) for n in (1, 2, 3)]

    assert [[build.pk for build in page.items] for page in pages] == [
        [builds[0].pk, builds[1].pk],
        [builds[2].pk, builds[3].pk],
        [builds[4].pk],
    ]
    assert (pages[0].total_items, pages[0].total_pages) == (5, 3)
