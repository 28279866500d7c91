from tests.conftest import Api
async def test_probe(api: Api) -> None:
    m = await api.create_merchant()
    print(await api.call("PATCH", f"/api/v1/admin/merchants/{m['merchant']['id']}", json={"name": "  "}, headers=api.bureau))
    print(await api.call("PATCH", f"/api/v1/admin/merchants/{m['merchant']['id']}", json={"district": "  ", "name": " x "}, headers=api.bureau))
