"""Unknown query parameters are a 400, on every route of every app.

A misspelt filter (``/v1/factories?contry=UZ``) used to be ignored, so the client silently got
every factory. The app-level dependency ``reject_unknown_query`` compares the request's query
keys with the parameters the matched route declares (its own and its dependencies', by alias)
and answers a problem naming the unknown ones and the allowed ones (where every route of a
router runs its ``Access`` first, Access checks instead, with ``refuse_unknown_query``: see
``include_guarded`` in services/common/app.py). The allowed set is computed
once per route: routes are fixed once the app is built. It is remembered with a weak reference
to its route: a process that builds apps again and again (the tests) frees routes, and a new
route may get a freed one's ``id``, which alone would hand it the freed route's names.
"""

from __future__ import annotations

from weakref import ReferenceType, ref

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from services.common.problems import Problem

# Keyed by id: a route compares by value (Starlette's __eq__), so it cannot be a dict key.
_allowed_by_route: dict[int, tuple[ReferenceType[APIRoute], frozenset[str]]] = {}


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """Every query parameter the route declares, through its dependencies too, by alias."""
    cached = _allowed_by_route.get(id(route))
    if cached is None or cached[0]() is not route:
        cached = (ref(route), frozenset(_query_names(route.dependant)))
        _allowed_by_route[id(route)] = cached
    return cached[1]


def _query_names(dependant: Dependant) -> set[str]:
    names: set[str] = set()
    for param in dependant.query_params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            # A query parameter model (``Annotated[Filters, Query()]``): its fields are the names.
            names |= {f.alias or name for name, f in annotation.model_fields.items()}
        else:
            names.add(param.alias)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    """App-level dependency: 400 ``unknown-query-parameter`` when the query names a parameter
    the route does not declare (``errors`` has one entry per unknown name)."""
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    refuse_unknown_query(request, route)


def refuse_unknown_query(request: Request, route: APIRoute) -> None:
    """The check itself, for a caller that runs first on ``route`` anyway (services/common/
    auth.py's ``Access``, where create_service_app lets it stand in for the dependency)."""
    allowed = declared_query_names(route)
    unknown = sorted({key for key in request.query_params if key not in allowed})
    if not unknown:
        return
    listed = ", ".join(sorted(allowed)) or "none"
    raise Problem(
        400,
        f"Unknown query parameter(s): {', '.join(unknown)}. This operation takes: {listed}.",
        kind="unknown-query-parameter",
        errors=[
            {"location": f"/query/{name}", "message": "Not a parameter of this operation."}
            for name in unknown
        ],
        allowed=sorted(allowed),
    )
