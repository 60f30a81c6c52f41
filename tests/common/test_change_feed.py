"""The change feed pages in commit order and takes any 64-bit cursor."""

import httpx

from tests.support import auth_header

SERVICE = auth_header("service")


async def test_pages_follow_each_other_without_gaps(assessment_client: httpx.AsyncClient) -> None:
    for n in range(5):
        created = await assessment_client.post(
            "/v1/brands", json={"name": f"Brand {n}"}, headers=auth_header("admin")
        )
        assert created.status_code == 201
    seen: list[int] = []
    after: int | str = 0
    while True:
        page = (
            await assessment_client.get(
                f"/internal/v1/changes?after={after}&limit=2", headers=SERVICE
            )
        ).json()
        seen += [event["id"] for event in page["items"]]
        after = page["next_cursor"]
        if not page["has_more"]:
            break
    assert len(seen) == 5 and seen == sorted(seen)


async def test_a_cursor_beyond_32_bits_is_answered(assessment_client: httpx.AsyncClient) -> None:
    response = await assessment_client.get(f"/internal/v1/changes?after={2**40}", headers=SERVICE)
    assert response.status_code == 200
    assert response.json()["items"] == []
    too_big = await assessment_client.get(f"/internal/v1/changes?after={2**64}", headers=SERVICE)
    assert too_big.status_code == 422
