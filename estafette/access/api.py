"""Estafette's RBAC routes: ``/api/roles``, ``/api/users``, ``/api/groups``, ``/api/organizations``, ``/api/clients``,
the batch routes (``/api/admin/batch/<kind>``), the audit trail and API clients' login.

Who may call which is not decided here: every route is authorized by ``estafette.access.permissions.Authorized``
from the policy table (``estafette.policy``). Views read the body, call one service and answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.access import services
from estafette.access.models import AuditEntry, Client, Group, Organization
from estafette.access.principal import principal_of
from estafette.access.roles import ROLES
from estafette.access.serializers import (
    AuditEntrySerializer,
    BatchSerializer,
    ClientLoginSerializer,
    ClientSerializer,
    ClientTokenSerializer,
    GroupSerializer,
    NewClientSerializer,
    OrganizationSerializer,
    UserSerializer,
)
from estafette.access.tokens import client_token_issue
from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.errors import NotFound, Unauthorized
from estafette.lib.listing import page_of, parse_list_query


class RolesApi(APIView):
    @extend_schema(
        operation_id="roles_list",
        responses={200: {"type": "array", "items": {"type": "string", "enum": list(ROLES)}}, **errors(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response(list(ROLES))


# -- users, groups, organizations, clients: the same five operations each -----------------------------------------


class Kind:
    """One RBAC item kind: its model, JSON, how its list is read and how one is saved and deactivated."""

    plural: str
    singular: str
    serializer: type[serializers.Serializer]

    def queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def create(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError

    def update(self, item: Any, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError

    def deactivate(self, item: Any) -> Any:
        return self.update(item, {"active": False})[0]

    def render(self, item: Any, extra: dict[str, Any] | None = None) -> Any:
        return self.serializer(item).data


class Users(Kind):
    plural, singular, serializer = "users", "user", UserSerializer

    def queryset(self) -> QuerySet[Any]:
        # ``sort=name`` (the list's documented sort field) orders users by their username: a user has no name column.
        return (
            get_user_model()
            .objects.annotate(name=F("username"))
            .prefetch_related("identities", "account__groups", "account__organizations")
        )

    def _changes(self, data: dict[str, Any]) -> dict[str, Any]:
        account = data.get("account", {})
        return {
            "active": data.get("is_active"),
            "roles": account.get("roles"),
            "groups": account.get("groups"),
            "organizations": account.get("organizations"),
        }

    def create(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        email = data.get("email") or ""
        if not email:
            raise serializers.ValidationError({"email": "a new user needs an email (what its login provider gives)"})
        return services.user_create(email=email, **self._changes(data)), {}

    def update(self, item: Any, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return services.user_update(user=item, email=data.get("email"), **self._changes(data)), {}

    def deactivate(self, item: Any) -> Any:
        return services.user_update(user=item, active=False)

    def render(self, item: Any, extra: dict[str, Any] | None = None) -> Any:
        services.account_of(item)
        return self.serializer(item).data


class Groups(Kind):
    plural, singular, serializer = "groups", "group", GroupSerializer

    def queryset(self) -> QuerySet[Any]:
        return Group.objects.prefetch_related("organizations")

    def create(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return services.group_save(**data), {}

    def update(self, item: Any, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return services.group_save(group=item, **data), {}


class Organizations(Kind):
    plural, singular, serializer = "organizations", "organization", OrganizationSerializer

    def queryset(self) -> QuerySet[Any]:
        return Organization.objects.all()

    def create(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return services.organization_save(**data), {}

    def update(self, item: Any, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return services.organization_save(organization=item, **data), {}


class Clients(Kind):
    plural, singular, serializer = "clients", "client", ClientSerializer

    def queryset(self) -> QuerySet[Any]:
        return Client.objects.prefetch_related("organizations")

    def create(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        client, secret = services.client_create(**data)
        return client, {"clientSecret": secret}

    def update(self, item: Any, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        client, _ = services.client_update(client=item, **data)
        return client, {}

    def render(self, item: Any, extra: dict[str, Any] | None = None) -> Any:
        return {**self.serializer(item).data, **(extra or {})}


class KindView(APIView):
    kind: ClassVar[Kind]

    def body(self, request: Request, *, partial: bool) -> dict[str, Any]:
        body = self.kind.serializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    def item(self) -> Any:
        raw = self.kwargs["item_id"]
        found = self.kind.queryset().filter(pk=int(raw)).first() if str(raw).isdigit() else None
        if found is None:
            raise NotFound(f"{self.kind.singular} {raw} not found")
        return found


class KindListApi(KindView):
    def get(self, request: Request) -> Response:
        query = parse_list_query(request.query_params, filters=(), sort_fields=("name", "id"), default_sort=("id",))
        page = page_of(self.kind.queryset(), query)
        return Response(page.envelope(lambda items: [self.kind.render(item) for item in items]))

    def post(self, request: Request) -> Response:
        item, extra = self.kind.create(self.body(request, partial=False))
        return Response(self.kind.render(item, extra), status=201)


class KindItemApi(KindView):
    def get(self, request: Request, item_id: str) -> Response:
        return Response(self.kind.render(self.item()))

    def put(self, request: Request, item_id: str) -> Response:
        item, extra = self.kind.update(self.item(), self.body(request, partial=True))
        return Response(self.kind.render(item, extra))

    def delete(self, request: Request, item_id: str) -> Response:
        """Estafette's delete: the item is deactivated, not removed (its history keeps naming it)."""
        return Response(self.kind.render(self.kind.deactivate(self.item())))


def kind_views(kind: Kind, *, created: type[serializers.Serializer] | None = None) -> list[Any]:
    """The two routes of a kind (``/<plural>``, ``/<plural>/{id}``), each a subclass naming the kind with its own
    OpenAPI operations (fresh methods: ``extend_schema`` annotates the function it is given)."""
    shown = kind.serializer
    answered = created or shown

    def list_items(self: KindListApi, request: Request) -> Response:
        return KindListApi.get(self, request)

    def create_item(self: KindListApi, request: Request) -> Response:
        return KindListApi.post(self, request)

    def get_item(self: KindItemApi, request: Request, item_id: str) -> Response:
        return KindItemApi.get(self, request, item_id)

    def update_item(self: KindItemApi, request: Request, item_id: str) -> Response:
        return KindItemApi.put(self, request, item_id)

    def deactivate_item(self: KindItemApi, request: Request, item_id: str) -> Response:
        return KindItemApi.delete(self, request, item_id)

    listing = type(
        f"{kind.plural.title()}Api",
        (KindListApi,),
        {
            "kind": kind,
            "get": extend_schema(
                operation_id=f"{kind.plural}_list",
                parameters=list_parameters((), ("name", "id")),
                responses={200: list_envelope(shown, kind.singular.title()), **errors(400, 401, 403)},
            )(list_items),
            "post": extend_schema(
                operation_id=f"{kind.plural}_create",
                request=shown,
                responses={201: answered, **errors(400, 401, 403)},
            )(create_item),
        },
    )
    one = type(
        f"{kind.singular.title()}Api",
        (KindItemApi,),
        {
            "kind": kind,
            "get": extend_schema(operation_id=f"{kind.singular}_get", responses={200: shown, **errors(401, 403, 404)})(
                get_item
            ),
            "put": extend_schema(
                operation_id=f"{kind.singular}_update",
                request=shown,
                responses={200: shown, **errors(400, 401, 403, 404)},
            )(update_item),
            "delete": extend_schema(
                operation_id=f"{kind.singular}_deactivate",
                request=None,
                responses={200: shown, **errors(401, 403, 404)},
                description="Deactivates it (Estafette's delete).",
            )(deactivate_item),
        },
    )
    return [
        path(kind.plural, listing.as_view(), name=kind.plural),
        path(f"{kind.plural}/<str:item_id>", one.as_view(), name=kind.singular),
    ]


class ClientSecretApi(KindView):
    """``POST /api/clients/{id}/secret``: a new secret for a client, shown once; the old one stops working."""

    kind = Clients()

    @extend_schema(
        operation_id="client_new_secret", request=None, responses={200: NewClientSerializer, **errors(401, 403, 404)}
    )
    def post(self, request: Request, item_id: str) -> Response:
        client, secret = services.client_update(client=self.item(), new_secret=True)
        return Response(self.kind.render(client, {"clientSecret": secret}))


# -- batch -----------------------------------------------------------------------------------------------------------

BATCH_KINDS = ("users", "groups", "organizations", "clients")
BatchAnswer = inline_serializer("BatchAnswer", {"changed": serializers.IntegerField()})


def batch_body(request: Request, kind: str) -> tuple[list[int], dict[str, Any]]:
    """Estafette's batch body: the ids under the kind's key (``{"users": [...], "rolesToAdd": [...]}``)."""
    data = dict(request.data) if isinstance(request.data, dict) else {}
    data["ids"] = data.pop(kind, None) or data.get("ids")
    body = BatchSerializer(data=data)
    body.is_valid(raise_exception=True)
    changes = dict(body.validated_data)
    raw_ids = changes.pop("ids")
    if not all(str(raw).isdigit() for raw in raw_ids):
        raise serializers.ValidationError({kind: "ids are whole numbers"})
    return [int(raw) for raw in raw_ids], changes


class BatchApi(APIView):
    @extend_schema(
        operation_id="admin_batch",
        request=BatchSerializer,
        responses={200: BatchAnswer, **errors(400, 401, 403)},
        description="Add or remove roles, groups and organizations of several users, groups, organizations or clients.",
    )
    def post(self, request: Request, kind: str) -> Response:
        if kind not in BATCH_KINDS:
            raise NotFound(f"no batch route for {kind!r}; there is one for {', '.join(BATCH_KINDS)} and pipelines")
        ids, changes = batch_body(request, kind)
        return Response({"changed": services.batch_edit(kind=kind, ids=ids, changes=changes)})


# -- audit -----------------------------------------------------------------------------------------------------------


class AuditApi(APIView):
    @extend_schema(
        operation_id="audit_list",
        parameters=list_parameters(("since",), ("at",)),
        responses={200: list_envelope(AuditEntrySerializer, "AuditEntry"), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = parse_list_query(request.query_params, filters=("since",), sort_fields=("at",), default_sort=("-at",))
        entries = AuditEntry.objects.all()
        if query.filters.since:
            entries = entries.filter(at__gte=query.filters.since)
        page = page_of(entries, query)
        return Response(page.envelope(lambda items: AuditEntrySerializer(items, many=True).data))


# -- API clients' login ----------------------------------------------------------------------------------------------


class ClientLoginApi(APIView):
    """``POST /api/auth/client/login {clientID, clientSecret}``: a short-lived token for an active client."""

    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="auth_client_login",
        request=ClientLoginSerializer,
        responses={200: ClientTokenSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        body = ClientLoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        client = (
            Client.objects.prefetch_related("organizations").filter(client_id=body.validated_data["client_id"]).first()
        )
        # One answer for an unknown id, a wrong secret and an inactive client: a caller learns nothing of which.
        if client is None or not client.secret_matches(body.validated_data["client_secret"]) or not client.active:
            raise Unauthorized("unknown client, wrong secret or inactive client")
        token, lifetime = client_token_issue(client=client)
        return Response({"token": token, "expiresIn": lifetime})


class ClientLogoutApi(APIView):
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="auth_client_logout",
        request=None,
        responses={204: OpenApiResponse(description="nothing to end: client tokens are not kept, they expire")},
    )
    def post(self, request: Request) -> Response:
        return Response(status=204)


def me_context(request: Request) -> dict[str, Any]:
    return {"principal": principal_of(request)}


urlpatterns = [
    path("roles", RolesApi.as_view(), name="roles"),
    *kind_views(Users()),
    *kind_views(Groups()),
    *kind_views(Organizations()),
    *kind_views(Clients(), created=NewClientSerializer),
    path("clients/<str:item_id>/secret", ClientSecretApi.as_view(), name="client-secret"),
    path("admin/batch/<str:kind>", BatchApi.as_view(), name="admin-batch"),
    path("audit", AuditApi.as_view(), name="audit"),
    path("auth/client/login", ClientLoginApi.as_view(), name="auth-client-login"),
    path("auth/client/logout", ClientLogoutApi.as_view(), name="auth-client-logout"),
]
