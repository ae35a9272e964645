"""Writes on the notification centre: notify, read, prefer, digest.

The business apps say what happened and to whom (an `Event` and the recipients' ids, computed by
their own rules: applications.services.notify, grants.services.notify), in the transaction of the
action; this module writes the rows, keeps each person's unread counter (`unread_notifications` on
the user row, F() updates in the same transaction, a CHECK >= 0 in the database) and, by each
person's preference, queues an instant e-mail (an outbox row) or leaves the row for the daily
digest. It imports none of the business apps: the user model comes from the settings.

Marking one's own notifications read is not audited: it is the reading state of one's inbox (like
`last_login`), not an action on anything of the programme. The preferences are audited by their
caller (accounts.services.notification_preferences_set), which knows the actor.
"""

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.models import (
    KIND_RULES,
    Delivery,
    Frequency,
    Notification,
    NotificationKind,
    NotificationPreference,
    OutgoingEmail,
)
from notifications.services import email_queue, email_send_on_commit


@dataclass(frozen=True)
class Event:
    """Something that happened, as its recipients read it.

    `key`: the event's idempotency key (unique with each recipient), e.g. ``message:42``.
    `link`: a path of the portal. `emailed_elsewhere`: the action sends its own e-mail carrying
    the same content (a group message): the notification stays in the centre only.
    """

    kind: str
    key: str
    title: str
    text: str
    link: str
    dossier_id: int | None = None
    grant_id: int | None = None
    emailed_elsewhere: bool = False


def _user_model() -> Any:
    return get_user_model()


def email_key(notification_key: str, recipient_id: int) -> str:
    return f"notification:{notification_key}:{recipient_id}"


def _absolute(link: str) -> str:
    return f"{settings.SITE_URL}{link}"


def _may_be_emailed(is_active: bool, confirmed_at: Any, email: str) -> bool:
    """Only an open account with a confirmed address is e-mailed (instantly or in a digest)."""
    return bool(is_active and confirmed_at is not None and email)


def _instant_email(event: Event, recipient_id: int, address: str) -> OutgoingEmail:
    return OutgoingEmail(
        key=email_key(event.key, recipient_id),
        to=[address],
        subject=event.title,
        body=_(
            "Bonjour,\n\n%(text)s\n\n%(link)s\n\n"
            "Vous recevez ce courriel selon vos préférences de notification, modifiables dans votre "
            "compte : %(preferences)s\n\nL'équipe Fabriques de territoires"
        )
        % {
            "text": event.text or event.title,
            "link": _absolute(event.link),
            "preferences": _absolute(_preferences_path()),
        },
    )


def _preferences_path() -> str:
    return reverse("accounts:notification-preferences")


def frequencies_of(user_ids: Collection[int], kinds: Collection[str]) -> dict[tuple[int, str], str]:
    """Each (user, kind)'s frequency: the person's choice, else the kind's default. One query."""
    chosen = {
        (user_id, kind): frequency
        for user_id, kind, frequency in NotificationPreference.objects.filter(
            user_id__in=user_ids, kind__in=kinds
        ).values_list("user_id", "kind", "frequency")
    }
    return {
        (user_id, kind): chosen.get((user_id, kind), KIND_RULES[kind].default)
        for user_id in user_ids
        for kind in kinds
    }


# No savepoint: the callers run in their action's transaction, and a failure here fails the action.
@transaction.atomic(savepoint=False)
def notify_many(*, events: Sequence[tuple[Event, Iterable[int]]]) -> list[Notification]:
    """Write the notifications of several events, each to its recipients; returns those written now.

    A fixed number of queries whatever the number of events and recipients (six at most): lock the
    recipients' rows (in the order of their ids, so two events never wait on each other in a
    cycle; the lock also makes the check of existing keys exact), read the keys already notified
    and the preferences, write the instant e-mails, the notifications, and the counters. An event
    notified again (a retried task, a replayed action) writes nothing more.
    """
    wanted: list[tuple[Event, int]] = []
    seen: set[tuple[str, int]] = set()
    for event, recipient_ids in events:
        if event.kind not in KIND_RULES:
            raise ValueError(f"Unknown notification kind {event.kind}")
        for recipient_id in recipient_ids:
            if (event.key, recipient_id) not in seen:
                seen.add((event.key, recipient_id))
                wanted.append((event, recipient_id))
    if not wanted:
        return []
    user_model = _user_model()
    user_ids = sorted({recipient_id for _event, recipient_id in wanted})
    people = {
        pk: (email, is_active, confirmed_at)
        for pk, email, is_active, confirmed_at in user_model.objects.select_for_update()
        .filter(pk__in=user_ids)
        .order_by("pk")
        .values_list("pk", "email", "is_active", "email_confirmed_at")
    }
    keys = sorted({event.key for event, _recipient in wanted})
    done = set(
        Notification.objects.filter(key__in=keys, recipient_id__in=user_ids).values_list(
            "key", "recipient_id"
        )
    )
    fresh = [(event, pk) for event, pk in wanted if (event.key, pk) not in done and pk in people]
    if not fresh:
        return []
    # The preferences matter only for the events the centre may e-mail.
    emailable = [
        (event, pk) for event, pk in fresh if not (KIND_RULES[event.kind].official or event.emailed_elsewhere)
    ]
    frequencies = (
        frequencies_of({pk for _event, pk in emailable}, {event.kind for event, _pk in emailable})
        if emailable
        else {}
    )
    deliveries: list[str] = []
    emails: dict[int, OutgoingEmail] = {}
    for index, (event, pk) in enumerate(fresh):
        address, is_active, confirmed_at = people[pk]
        frequency = frequencies.get((pk, event.kind), Frequency.NEVER)
        if KIND_RULES[event.kind].official or event.emailed_elsewhere or frequency == Frequency.NEVER:
            deliveries.append(Delivery.NONE)
        elif frequency == Frequency.DIGEST:
            deliveries.append(Delivery.DIGEST)
        elif _may_be_emailed(is_active, confirmed_at, address):
            deliveries.append(Delivery.INSTANT)
            emails[index] = _instant_email(event, pk, address)
        else:
            deliveries.append(Delivery.NONE)
    if emails:
        for email in emails.values():
            # The keys' uniqueness is the database's (no query per row); the rest is checked here.
            email.full_clean(validate_unique=False, validate_constraints=False)
        OutgoingEmail.objects.bulk_create(list(emails.values()))
        for email in emails.values():
            email_send_on_commit(email.pk)
    rows = [
        Notification(
            key=event.key,
            recipient_id=pk,
            kind=event.kind,
            dossier_id=event.dossier_id,
            grant_id=event.grant_id,
            title=event.title[:200],
            text=event.text,
            link=event.link,
            delivery=deliveries[index],
            email=emails.get(index),
        )
        for index, (event, pk) in enumerate(fresh)
    ]
    Notification.objects.bulk_create(rows)
    _counters_add(Counter(pk for _event, pk in fresh))
    return rows


def _counters_add(counts: Mapping[int, int]) -> None:
    """Add to each person's unread counter in one UPDATE (a CASE when the amounts differ)."""
    if not counts:
        return
    user_model = _user_model()
    amounts = set(counts.values())
    if len(amounts) == 1:
        increment: Any = Value(amounts.pop())
    else:
        increment = Case(
            *[When(pk=pk, then=Value(amount)) for pk, amount in counts.items()],
            default=Value(0),
            output_field=IntegerField(),
        )
    user_model.objects.filter(pk__in=list(counts)).update(
        unread_notifications=F("unread_notifications") + increment
    )


def notify(*, event: Event, recipient_ids: Iterable[int]) -> list[Notification]:
    """One event to its recipients (`notify_many` with one event)."""
    return notify_many(events=[(event, recipient_ids)])


# --- reading --------------------------------------------------------------------------------------


@transaction.atomic
def notification_mark_read(*, notification: Notification, user: Any) -> bool:
    """Mark one of the user's notifications read; True when it was unread.

    One conditional UPDATE: two clicks at once mark it (and lower the counter) once."""
    if notification.recipient_id != user.pk:
        raise ValidationError(_("Cette notification ne vous est pas adressée."), code="not_yours")
    marked = Notification.objects.filter(
        pk=notification.pk, recipient_id=user.pk, read_at__isnull=True
    ).update(read_at=timezone.now())
    if marked:
        _user_model().objects.filter(pk=user.pk).update(
            unread_notifications=F("unread_notifications") - marked
        )
    return bool(marked)


@transaction.atomic
def notifications_mark_all_read(*, user: Any) -> int:
    """Mark all the user's notifications read; returns how many were unread."""
    marked = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if marked:
        _user_model().objects.filter(pk=user.pk).update(
            unread_notifications=F("unread_notifications") - marked
        )
    return marked


def unread_recount(*, user_id: int) -> int:
    """The unread notifications counted from the rows (the tests compare it with the counter)."""
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


# --- preferences ----------------------------------------------------------------------------------


@transaction.atomic
def notification_preferences_write(*, user_id: int, choices: Mapping[str, str]) -> dict[str, list[str]]:
    """Store a person's choices (kind → frequency); returns the changes as {kind: [before, after]}.

    A kind whose e-mail is official cannot be chosen (it is never e-mailed by the centre); an
    unknown kind or frequency is a programming error of the caller's form, refused.
    """
    errors = [
        kind
        for kind, frequency in choices.items()
        if kind not in KIND_RULES or KIND_RULES[kind].official or frequency not in Frequency.values
    ]
    if errors:
        raise ValidationError(_("Choix de notification invalide."), code="invalid")
    before = frequencies_of([user_id], list(choices))
    existing = {
        row.kind: row
        for row in NotificationPreference.objects.select_for_update().filter(
            user_id=user_id, kind__in=list(choices)
        )
    }
    changes: dict[str, list[str]] = {}
    now = timezone.now()
    for kind, frequency in choices.items():
        old = before[(user_id, kind)]
        if old == frequency and kind not in existing and frequency == KIND_RULES[kind].default:
            continue
        row = existing.get(kind)
        if row is None:
            row = NotificationPreference(user_id=user_id, kind=kind, frequency=frequency, updated_at=now)
            row.full_clean()
            row.save()
        elif row.frequency != frequency:
            row.frequency = frequency
            row.updated_at = now
            row.full_clean()
            row.save(update_fields=["frequency", "updated_at"])
        if old != frequency:
            changes[kind] = [old, frequency]
    return changes


# --- the daily digest ------------------------------------------------------------------------------


def digest_key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def digest_body(notifications: Sequence[Notification]) -> str:
    """The digest's text: the notifications grouped by kind (in the order of the kinds), with links."""
    by_kind: dict[str, list[Notification]] = defaultdict(list)
    for notification in notifications:
        by_kind[notification.kind].append(notification)
    parts = [_("Bonjour,\n\nVoici ce qui s'est passé sur le portail depuis votre dernier résumé.")]
    for kind in NotificationKind:
        rows = by_kind.get(kind.value)
        if not rows:
            continue
        lines = [f"{kind.label} ({len(rows)})"]
        lines += [f"- {row.title}\n  {_absolute(row.link)}" for row in rows]
        parts.append("\n".join(lines))
    parts.append(
        _(
            "Toutes vos notifications : %(centre)s\nVos préférences : %(preferences)s\n\n"
            "L'équipe Fabriques de territoires"
        )
        % {"centre": _absolute(_centre_path()), "preferences": _absolute(_preferences_path())}
    )
    return "\n\n".join(parts)


def _centre_path() -> str:
    return reverse("notifications:centre")


@transaction.atomic
def digest_send(*, user_id: int, day: date) -> OutgoingEmail | None:
    """One person's digest of `day`: one e-mail (key per person and day) listing their notifications
    waiting for it, marked digested in the same transaction. None when there is nothing to say,
    when today's digest was already written (a second run sends nothing), or when the account may
    not be e-mailed (its waiting rows are then marked digested, without an e-mail)."""
    user_model = _user_model()
    person = (
        user_model.objects.select_for_update()
        .filter(pk=user_id)
        .values_list("email", "is_active", "email_confirmed_at")
        .first()
    )
    if person is None:
        return None
    key = digest_key(user_id, day)
    if OutgoingEmail.objects.filter(key=key).exists():
        return None
    waiting = list(
        Notification.objects.filter(
            recipient_id=user_id, delivery=Delivery.DIGEST, digested_at__isnull=True
        ).order_by("created_at", "pk")
    )
    if not waiting:
        return None
    email: OutgoingEmail | None = None
    if _may_be_emailed(person[1], person[2], person[0]):
        email = email_queue(
            key=key,
            to=[person[0]],
            subject=ngettext(
                "Votre résumé quotidien : %(count)d notification",
                "Votre résumé quotidien : %(count)d notifications",
                len(waiting),
            )
            % {"count": len(waiting)},
            body=digest_body(waiting),
        )
    Notification.objects.filter(pk__in=[row.pk for row in waiting]).update(
        digested_at=timezone.now(), email=email
    )
    return email


def digests_send(*, day: date | None = None) -> dict[str, int]:
    """Every person's digest of the day; each in its own transaction (one failure loses no other)."""
    day = day or timezone.localdate()
    user_ids = list(
        Notification.objects.filter(delivery=Delivery.DIGEST, digested_at__isnull=True)
        .order_by()
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    sent = 0
    for user_id in sorted(user_ids):
        if digest_send(user_id=user_id, day=day) is not None:
            sent += 1
    return {"digests": sent}
