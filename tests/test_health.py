def test_healthz_reports_database_and_scheduler(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert "status" in body["scheduler"]
    assert {"bigcommerce", "engagement_cloud", "smtp"} <= set(body["plugins"])
