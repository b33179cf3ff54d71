"""``python -m sandbox bigcommerce`` starts, prints the ready line and serves verified HTTPS."""

from __future__ import annotations


def test_command_line_contract(sandbox_command):
    sandbox = sandbox_command("bigcommerce", "--seed", "1", "--orders", "20")
    line = sandbox.process.stdout.readline().strip()
    assert line == f"ready {sandbox.url}", (line, sandbox.process.stderr.read() if sandbox.process.poll() else "")
    assert (sandbox.tls_dir / "ca.pem").exists()
    answer = sandbox.session().get(
        f"{sandbox.url}/stores/sandbox/v2/orders/count", headers={"X-Auth-Token": "sandbox-token"}
    )
    assert answer.status_code == 200 and answer.json()["count"] == 20
    assert answer.headers["X-Rate-Limit-Requests-Quota"] == "150"
