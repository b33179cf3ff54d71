"""The production rules' switches: all on after ``reset()``, set one by one over HTTP, unknown names refused."""

from __future__ import annotations

import pytest

from sandbox.salesforce.rules import RULES


def _control(client, method, action, **kwargs):
    return client.session.request(method, f"{client.url}/__sandbox__/{action}", timeout=10, **kwargs)


def test_every_rule_is_on_after_reset(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    assert _control(salesforce_client, "GET", "rules").json() == dict.fromkeys(RULES, True)
    switched = _control(salesforce_client, "POST", "rules", json=dict.fromkeys(RULES, False))
    assert switched.status_code == 200 and switched.json() == dict.fromkeys(RULES, False)
    assert app.rules == dict.fromkeys(RULES, False)
    app.reset()
    assert app.rules == dict.fromkeys(RULES, True)
    # The org follows the same switches after a reset (one dict shared by the app and the org).
    assert app.org.rules is app.rules
    assert _control(salesforce_client, "POST", "reset").status_code == 200
    assert _control(salesforce_client, "GET", "rules").json() == dict.fromkeys(RULES, True)


def test_an_unknown_rule_or_value_is_refused_and_nothing_changes(salesforce_client, salesforce_sandbox):
    refused = _control(salesforce_client, "POST", "rules", json={"duplicate_rules": False, "no_such_rule": False})
    assert refused.status_code == 400
    assert "no_such_rule" in refused.json()["error"]
    not_bool = _control(salesforce_client, "POST", "rules", json={"field_lengths": "off"})
    assert not_bool.status_code == 400
    assert _control(salesforce_client, "GET", "rules").json() == dict.fromkeys(RULES, True)
    with pytest.raises(ValueError, match="unknown rule"):
        salesforce_sandbox.app.rules_set(nope=True)
