"""``python -m sandbox salesforce --port PORT --tls-dir DIR`` keeps the command-line contract."""

from __future__ import annotations


def test_command_prints_ready_and_serves_https(sandbox_command):
    sandbox = sandbox_command("salesforce", "--schema", "minimal")
    line = sandbox.process.stdout.readline().strip()
    assert line == f"ready {sandbox.url}", line or sandbox.process.stderr.read()
    session = sandbox.session()
    token = session.post(
        f"{sandbox.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "sandbox-client", "client_secret": "sandbox-secret"},
        timeout=10,
    ).json()["access_token"]
    described = session.get(
        f"{sandbox.url}/services/data/v62.0/sobjects/Order/describe",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    names = {field["name"] for field in described["fields"]}
    assert "TotalAmount" in names and "BigCommerceOrderId__c" not in names  # --schema minimal
