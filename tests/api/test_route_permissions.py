"""Authorisation is structural: every route declares who may call it, or the test fails."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tierflow.api import ROUTERS, auth


def _calls(dependant: Dependant) -> set[object]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _routes() -> list[APIRoute]:
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def test_every_route_declares_its_access() -> None:
    missing = []
    routes = _routes()
    assert len(routes) > 25
    for route in routes:
        calls = _calls(route.dependant)
        if not calls & {auth.current_party, auth.public}:
            missing.append(f"{sorted(route.methods)} {route.path}")
    assert not missing, "routes without an access declaration: " + ", ".join(missing)


def test_state_changing_routes_need_a_party() -> None:
    for route in _routes():
        if route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            assert auth.current_party in _calls(route.dependant), route.path
