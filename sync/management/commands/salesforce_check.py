"""``manage.py salesforce_check``: does the Salesforce org have everything b2s writes?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sync.salesforce_setup import report_render, salesforce_setup_check


class Command(BaseCommand):
    help = (
        "Log in to Salesforce with the configured credentials and compare the org's objects, fields and "
        "platform events with what b2s needs. Exits non-zero when something required is missing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        from sync.salesforce import SalesforceAuthError, SalesforceError, salesforce_client

        try:
            report = salesforce_setup_check(client=salesforce_client())
        except SalesforceAuthError as error:
            raise CommandError(f"Salesforce login failed: {error}") from None
        except SalesforceError as error:
            raise CommandError(f"Salesforce check failed: {error}") from None
        for line in report_render(report):
            self.stdout.write(line)
        failures = report.failures
        if failures:
            self.stdout.write("")
            self.stdout.write(
                "Deploy the metadata in salesforce/ (sf project deploy start --source-dir salesforce/force-app), "
                "assign the permission set B2S_Integration to the integration user, then run this again."
            )
            names = ", ".join(f"{row.name} ({row.status})" for row in failures)
            raise CommandError(f"{len(failures)} required item(s) missing or wrong: {names}")
        self.stdout.write(self.style.SUCCESS("The Salesforce org has everything b2s needs."))
