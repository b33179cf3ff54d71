"""Alerts: open, count and resolve ``Alert`` rows from the conditions that hold, and tell people in digests.

Every minute (``ops.tasks.alerts_evaluate_task``) the rules (``ops.alert_rules``) judge the window's counts.
A condition opens an alert, or counts one more occurrence on the open one of its kind and key. People are
told when an alert opens, again at most every ``alert_repeat_minutes`` while it lasts, and once when it
resolves (its condition clear for the alert window, so a flapping condition does not ring at every turn).
Whatever is due in one evaluation goes out as ONE digest per channel, listing every open alert: an outage
across fifty stores is one e-mail and one chat message, not fifty.

Two evaluations running at once cannot both announce an alert: the one open alert per kind and key is a
unique constraint, and an alert is taken into a digest by a compare-and-set on its last notification.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from ops.alert_rules import UNKNOWN_STORE, Condition, alert_conditions
from ops.models import Alert
from ops.selectors import alert_facts, alert_thresholds
from sync.config import config
from sync.models import email_addresses_split

logger = logging.getLogger(__name__)

State = Alert.State
# A chat message lists at most this many alerts (chat services cap a message's length); e-mail lists all.
CHAT_ALERTS_MAX = 25
DELIVERY_ERROR_MAX = 500


@dataclass
class AlertDigest:
    """What one evaluation tells people: alerts opened now, alerts still open, alerts resolved now."""

    at: datetime
    opened: list[Alert] = field(default_factory=list)
    still_open: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)

    @property
    def alerts(self) -> list[Alert]:
        return [*self.opened, *self.still_open, *self.resolved]

    @property
    def headline(self) -> str:
        parts = [
            f"{len(alerts)} {label}"
            for alerts, label in ((self.opened, "new"), (self.still_open, "still open"), (self.resolved, "resolved"))
            if alerts
        ]
        return f"b2s alerts: {', '.join(parts)}"


@dataclass(frozen=True)
class AlertEvaluation:
    """What one evaluation did."""

    conditions: int
    opened: int
    resolved: int
    notified: int
    channels: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def alerts_evaluate(*, now: datetime) -> AlertEvaluation:
    """Judge the conditions at ``now``, record them on alerts and send the one digest that is due, if any."""
    thresholds = alert_thresholds()
    repeat = timedelta(minutes=int(config.threshold("alert_repeat_minutes")))
    # An alert resolves once its condition has been clear for the whole window: a rate hovering around its
    # threshold stays one open alert instead of opening and resolving every minute.
    settle = timedelta(minutes=thresholds.window_minutes)
    conditions = alert_conditions(alert_facts(now=now, thresholds=thresholds), thresholds)
    opened = sum(_alert_record(condition, now=now) for condition in conditions)
    holding = {(condition.kind, condition.key) for condition in conditions}
    resolved = _alerts_resolve_cleared(holding=holding, cleared_before=now - settle, now=now)
    digest = _digest_claim(now=now, repeat=repeat, resolved=resolved)
    channels: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    if digest is not None:
        channels, errors = _digest_send(digest)
    return AlertEvaluation(
        conditions=len(conditions),
        opened=opened,
        resolved=len(resolved),
        notified=len(digest.alerts) if digest else 0,
        channels=channels,
        errors=errors,
    )


def alerts_resolve(*, alerts: QuerySet[Alert], now: datetime) -> int:
    """Resolve open alerts by hand (no message): one whose condition still holds opens again as a new alert."""
    return alerts.filter(state=State.OPEN).update(state=State.RESOLVED, resolved_at=now)


def _alert_record(condition: Condition, *, now: datetime) -> bool:
    """Count the condition on its open alert, or open one; True when this call opened it."""
    current = Alert.objects.filter(kind=condition.kind, key=condition.key, state=State.OPEN)
    seen = {"last_seen_at": now, "summary": condition.summary, "occurrences": F("occurrences") + 1}
    if current.update(**seen):
        return False
    try:
        with transaction.atomic():
            Alert.objects.create(
                kind=condition.kind, key=condition.key, summary=condition.summary, opened_at=now, last_seen_at=now
            )
    except IntegrityError:
        # Another evaluation opened it between our update and insert: it is that alert's occurrence.
        current.update(**seen)
        return False
    return True


def _alerts_resolve_cleared(*, holding: set[tuple[str, str]], cleared_before: datetime, now: datetime) -> list[Alert]:
    """Resolve the open alerts whose condition has not held since ``cleared_before``; those to announce."""
    announced = []
    for alert in Alert.objects.filter(state=State.OPEN, last_seen_at__lte=cleared_before).order_by("kind", "key"):
        if (alert.kind, alert.key) in holding:
            continue
        # Only an alert people were told about needs its all-clear.
        announce = alert.notifications > 0
        told = {"last_notified_at": now, "notifications": F("notifications") + 1} if announce else {}
        resolved = Alert.objects.filter(pk=alert.pk, state=State.OPEN).update(
            state=State.RESOLVED, resolved_at=now, **told
        )
        if resolved and announce:
            alert.state, alert.resolved_at = State.RESOLVED, now
            announced.append(alert)
    return announced


def _digest_claim(*, now: datetime, repeat: timedelta, resolved: list[Alert]) -> AlertDigest | None:
    """The digest due now, its alerts marked as told; None when nothing is due.

    Due: an alert never told about, or told about ``repeat`` ago or longer, or one resolved now. A digest
    that goes out anyway lists every open alert (and restarts their repeat clocks), so alerts that opened
    minutes apart are told together from then on.
    """
    open_alerts = list(Alert.objects.filter(state=State.OPEN).order_by("kind", "key"))
    due = [alert for alert in open_alerts if alert.last_notified_at is None or alert.last_notified_at <= now - repeat]
    digest = AlertDigest(at=now, resolved=resolved)
    claimed = [alert for alert in due if _claim(alert, now=now)]
    if not claimed and not resolved:
        return None
    rest = [alert for alert in open_alerts if alert not in due and _claim(alert, now=now)]
    for alert in sorted([*claimed, *rest], key=lambda alert: (alert.kind, alert.key)):
        (digest.opened if alert.opened_at == now else digest.still_open).append(alert)
    return digest


def _claim(alert: Alert, *, now: datetime) -> bool:
    """Mark the alert as told now unless another evaluation did since it was read (compare-and-set)."""
    rows = Alert.objects.filter(pk=alert.pk, state=State.OPEN)
    rows = (
        rows.filter(last_notified_at__isnull=True)
        if alert.last_notified_at is None
        else rows.filter(last_notified_at=alert.last_notified_at)
    )
    if not rows.update(last_notified_at=now, notifications=F("notifications") + 1):
        return False
    alert.last_notified_at, alert.notifications = now, alert.notifications + 1
    return True


def _digest_send(digest: AlertDigest) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Send the digest to each configured channel; a failing channel is logged and recorded, never raised.

    Returns the channels that took the message and the errors of those that did not.
    """
    sent: list[str] = []
    errors: list[str] = []
    recipients, invalid = email_addresses_split(config.setting("alert_email_to"))
    if invalid:
        logger.warning("alert_email_to holds %s invalid address(es), skipped", len(invalid))
    if recipients:
        try:
            send_mail(digest.headline, _digest_text(digest), None, recipients, fail_silently=False)
        except Exception as error:  # any backend's failure (SMTP, socket, TLS) must not stop the chat message
            logger.error("Alert e-mail to %s recipient(s) failed: %s", len(recipients), type(error).__name__)
            errors.append(f"e-mail: {type(error).__name__}: {str(error)[:200]}")
        else:
            sent.append("email")
    webhook_url = settings.ALERT_WEBHOOK_URL
    if webhook_url:
        chat_error = _chat_post(webhook_url, text=_digest_text(digest, limit=CHAT_ALERTS_MAX))
        if chat_error:
            errors.append(chat_error)
        else:
            sent.append("chat")
    if not recipients and not webhook_url:
        logger.warning("%s, but no channel is set (alert_email_to, ALERT_WEBHOOK_URL)", digest.headline)
    error_text = "; ".join(errors)[:DELIVERY_ERROR_MAX]
    Alert.objects.filter(pk__in=[alert.pk for alert in digest.alerts]).update(delivery_error=error_text)
    return tuple(sent), tuple(errors)


def _chat_post(url: str, *, text: str) -> str:
    """POST ``{"text": ...}`` to the chat's incoming webhook; the error to record, or "" when it took it.

    The URL is a secret (its path is the credential): logs and errors name only its host, and never
    carry requests' own messages, which quote the URL.
    """
    host = urlsplit(url).hostname or "?"
    try:
        response = requests.post(url, json={"text": text}, timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        logger.error("Alert chat webhook at %s failed: %s", host, type(error).__name__)
        return f"chat ({host}): {type(error).__name__}"
    if response.status_code >= 400:
        logger.error("Alert chat webhook at %s answered HTTP %s", host, response.status_code)
        return f"chat ({host}): HTTP {response.status_code}"
    return ""


def _digest_text(digest: AlertDigest, *, limit: int | None = None) -> str:
    """The digest as plain text: a headline, then the alerts by section, each with its summary."""
    lines = [f"{digest.headline} ({_when(digest.at)})."]
    listed = 0
    for title, alerts in (("New", digest.opened), ("Still open", digest.still_open), ("Resolved", digest.resolved)):
        if not alerts:
            continue
        lines += ["", f"{title}:"]
        for alert in alerts:
            if limit is not None and listed >= limit:
                break
            lines.append(f"- {_line(alert)}")
            listed += 1
    if limit is not None and len(digest.alerts) > limit:
        lines += ["", f"... and {len(digest.alerts) - limit} more: see Operations > Alerts in the admin."]
    return "\n".join(lines)


def _line(alert: Alert) -> str:
    kind = Alert.Kind(alert.kind).label
    if alert.state == State.RESOLVED:
        subject = alert.key or UNKNOWN_STORE
        return f"{kind}, {subject}: resolved (open {_when(alert.opened_at)} to {_when(alert.last_seen_at)})."
    since = "" if alert.occurrences <= 1 else f" (since {_when(alert.opened_at)}, seen {alert.occurrences} times)"
    return f"{kind}: {alert.summary}{since}"


def _when(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}"
