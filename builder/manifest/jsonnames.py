"""Estafette's JSON name for a snake_case Python name: one rule for the trigger events, the builder's wire types and
the API's serializers.

Here, in the manifest library, because it is the lowest layer all three stand on: the library imports nothing of the
builder outside itself, the builder imports the library, and the API imports both.
"""

from __future__ import annotations


def camel_case(name: str) -> str:
    """``repo_source`` → ``repoSource``: the first word as it is, each further word capitalised.

    A further word ``id`` is written ``ID``, as Estafette's Go structs tag their ids (``buildID``, ``releaseID``,
    ``userID``); a leading ``id`` stays ``id``. Estafette's other irregular names (``hookUUID``, ``baseURL``
    next to ``baseUrl``, ``repoBranch`` for a field named ``branch``) are not a rule: the types that have them
    name them field by field.
    """
    head, *rest = name.split("_")
    return head + "".join("ID" if word == "id" else word.capitalize() for word in rest)
