"""The salesforce_check table (tabulate): the same five columns, one row per requirement, then the API usage."""

from __future__ import annotations

from sync.salesforce_setup import CheckRow, SetupReport, report_render


def test_the_table_has_the_columns_and_each_requirement():
    report = SetupReport(
        rows=[
            CheckRow("Order", "BigCommerceOrderId__c", "Text(255) external id", "Text(255)", "ok"),
            CheckRow("Account", "RFM_Score__c", "Text(3)", "255", "too short", note="needs 3"),
            CheckRow("BigCommerce_Order_Created__e", "", "platform event", "", "object missing"),
        ],
        api_usage=(12, 15000),
        daily_api_requests={"Max": 15000, "Remaining": 14988},
    )
    lines = report_render(report)
    assert lines[0].split() == ["Object", "Field", "Needs", "Found", "Result"]
    assert set(lines[1].replace(" ", "")) == {"-"}  # the header's rule
    cells = [line.split("  ") for line in lines[2:5]]
    assert [[cell.strip() for cell in row if cell.strip()] for row in cells] == [
        ["Order", "BigCommerceOrderId__c", "Text(255) external id", "Text(255)", "ok"],
        ["Account", "RFM_Score__c", "Text(3)", "255", "too short: needs 3"],
        ["BigCommerce_Order_Created__e", "(object)", "platform event", "object missing"],
    ]
    # Columns line up: each row's field starts where the header's "Field" does.
    column = lines[0].index("Field")
    assert [line.index(field) for line, field in zip(lines[2:5], ["Big", "RFM", "(object)"], strict=True)] == [
        column
    ] * 3
    assert all(line == line.rstrip() for line in lines)
    assert "Daily API requests: 12 used of 15000 (14988 remaining)" in lines
    assert "API usage (Sforce-Limit-Info): 12/15000" in lines
