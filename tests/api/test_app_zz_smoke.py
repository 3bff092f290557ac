from tests.api.test_app_support import city, client  # noqa
import json
def test_smoke(city, client):
    for path in ["/health", "/version", "/api/v1/me", "/api/v1/communities", "/api/v1/communities/C1",
                 "/api/v1/incidents?period=2025", "/api/v1/aggregates/communities?period=2025",
                 "/api/v1/aggregates/grid?period=2025&format=json", "/api/v1/catalogue", "/api/v1/profiles",
                 "/api/v1/profiles/active", "/api/v1/audit"]:
        for role in ["admin", "planner", "liaison"]:
            r = client.get(path, headers=city.headers(role))
            print(role, path, r.status_code, r.text[:300].replace("\n", " "))
