"""Report publications obey the kernel country rule (services/common/scope.py).

A staff or constituent token naming a country sees that programme's editions only: another
country's edition is 404 exactly like a missing one, and lists leave it out. Programme-wide
callers (admin, staff without a country, the public) still see every edition.
"""

from __future__ import annotations

import httpx

from tests.reporting.test_annual import URL, client, sources  # noqa: F401
from tests.support import auth_header

STAFF = auth_header("staff")
KH_STAFF = auth_header("staff", country="KH")
KH_CONSTITUENT = auth_header("constituent", country="KH")
UZ_STAFF = auth_header("staff", country="UZ")


async def _publish_uz(http: httpx.AsyncClient) -> tuple[str, str]:
    published = await http.post(URL + "/publications", params={"country": "UZ"}, headers=STAFF)
    assert published.status_code == 201, published.text
    return published.json()["id"], published.headers["location"]


async def test_a_caller_scoped_to_another_country_gets_404_and_an_empty_list(
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    _, location = await _publish_uz(client)
    for headers in (KH_STAFF, KH_CONSTITUENT):
        read = await client.get(location, headers=headers)
        assert read.status_code == 404, read.text
        assert read.headers["content-type"].startswith("application/problem+json")
        listed = await client.get(URL + "/publications", headers=headers)
        assert listed.status_code == 200
        assert listed.json()["items"] == []
        asked = await client.get(URL + "/publications", params={"country": "UZ"}, headers=headers)
        assert asked.json()["items"] == []


async def test_the_publications_own_country_and_programme_wide_callers_see_it(
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    ident, location = await _publish_uz(client)
    for headers in (UZ_STAFF, STAFF, auth_header("admin"), {}):
        read = await client.get(location, headers=headers)
        assert read.status_code == 200, read.text
        listed = (await client.get(URL + "/publications", headers=headers)).json()
        assert [p["id"] for p in listed["items"]] == [ident]
