def test_healthz(anon, db):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": 0, "msg": "ok", "db": "ok", "cache": "ok"}
