from django.urls import path

from pipelines.api import PipelineDetailApi, PipelineListApi
from pipelines.catalog_api import CatalogEntitiesApi, CatalogEntityApi
from pipelines.facets_api import (
    CatalogFiltersApi,
    CatalogFilterValuesApi,
    FrequentLabelsApi,
    PipelineReleaseTargetsApi,
    PipelinesCountApi,
)
from pipelines.manifest_api import ManifestEncryptApi, ManifestGenerateApi, ManifestTemplatesApi, ManifestValidateApi

urlpatterns = [
    path("pipelines", PipelineListApi.as_view(), name="pipelines"),
    path("pipelines/<str:source>/<str:owner>/<str:name>", PipelineDetailApi.as_view(), name="pipeline"),
    path("manifest/encrypt", ManifestEncryptApi.as_view(), name="manifest-encrypt"),
    path("manifest/templates", ManifestTemplatesApi.as_view(), name="manifest-templates"),
    path("manifest/generate", ManifestGenerateApi.as_view(), name="manifest-generate"),
    path("manifest/validate", ManifestValidateApi.as_view(), name="manifest-validate"),
    path("releasetargets/pipelines", PipelineReleaseTargetsApi.as_view(), name="release-targets-pipelines"),
    path("labels/frequent", FrequentLabelsApi.as_view(), name="labels-frequent"),
    path("stats/pipelinescount", PipelinesCountApi.as_view(), name="stats-pipelines-count"),
    path("catalog/filters", CatalogFiltersApi.as_view(), name="catalog-filters"),
    path("catalog/filtervalues", CatalogFilterValuesApi.as_view(), name="catalog-filter-values"),
    path("catalog/entities", CatalogEntitiesApi.as_view(), name="catalog-entities"),
    path("catalog/entities/<str:entity_id>", CatalogEntityApi.as_view(), name="catalog-entity"),
]
