"""5. Submission day: many applicants submitting at once, over loopback, with the receipts rendered.

N complete drafts (200) of N distinct applicants are prepared on a call of their own
(bench/data.py, as the test factories build them). gunicorn serves the portal with (2 × cores + 1)
sync workers; `cores` celery workers (--concurrency=1 each) consume every bench queue
(PDFs, e-mails) on Redis. One client thread per applicant does what a browser does: it opens its dossier page
(which sets the CSRF cookie and carries the form's token), waits for every other client, then all
post « Déposer » at once. Measured: submissions per second over the burst, p50 and p99 of the
POSTs. Then the harness waits for the workers and checks:

- every POST answered with the redirect to the dossier page, none with an error;
- every dossier submitted, exactly once (one status change to « déposé »), none lost;
- references all distinct, submission numbers all 1, receipt keys and file names all distinct;
- every receipt rendered (a file, its SHA-256), exactly once (one attempt), and its e-mail sent.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    Context,
    celery_workers,
    gunicorn,
    http_request,
    percentile,
    purge_queues,
    session_cookie,
)

NUMBER = 5
TITLE = "Submission day"
ORDER = 50
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _client(
    base_url: str, reference: str, cookies: dict[str, str], barrier: threading.Barrier, out: dict[str, Any]
) -> None:
    """One applicant's browser: the dossier page, then « Confirmer le dépôt » once everyone is ready."""
    try:
        page = http_request(f"{base_url}/mon-espace/dossiers/{reference}/", cookies=cookies)
        jar = {**cookies, **page.cookies}
        match = TOKEN.search(page.text())
        if page.status != 200 or match is None:
            out["error"] = f"dossier page: {page.status}, token {'found' if match else 'missing'}"
            barrier.abort()
            return
        # « Confirmer » on the recap: the post that submits (without the flag, only the recap).
        body = urlencode({"csrfmiddlewaretoken": match.group(1), "confirmer": "1"}).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"{base_url}/mon-espace/dossiers/{reference}/",
        }
        barrier.wait()
        began = time.perf_counter()
        response = http_request(
            f"{base_url}/mon-espace/dossiers/{reference}/deposer/",
            method="POST",
            cookies=jar,
            body=body,
            headers=headers,
        )
        out["latency"] = time.perf_counter() - began
        out["ended"] = time.monotonic()
        out["status"] = response.status
        out["location"] = response.headers.get("location", "")
    except threading.BrokenBarrierError:
        out.setdefault("error", "another client failed before the burst")
    except Exception as error:  # recorded as this client's error
        out["error"] = f"{type(error).__name__}: {error}"


def run(ctx: Context) -> dict[str, Any]:
    from django.db.models import Count, Q

    from applications.models import Application, StatusChange
    from bench.data import bench_call, complete_draft
    from notifications.models import Document, OutgoingEmail, Status

    result = ctx.result()
    count = 10 if ctx.quick else 200
    run_id = uuid.uuid4().hex[:6]

    ctx.log(f"preparing {count} complete drafts")
    began = time.monotonic()
    call = bench_call(f"jour-de-depot-{run_id}")
    drafts = [complete_draft(call, index) for index in range(count)]
    cookies = {draft.pk: dict([session_cookie(draft.created_by)]) for draft in drafts}
    ctx.state.setdefault("seeding", {})[f"{count} complete drafts"] = round(time.monotonic() - began, 1)
    purge_queues()

    outcomes: list[dict[str, Any]] = [{} for _ in drafts]
    with gunicorn(ctx) as server, celery_workers(ctx, ctx.cores) as workers:
        base_url = server.url("").rstrip("/")
        barrier = threading.Barrier(count + 1)
        threads = [
            threading.Thread(
                target=_client,
                args=(base_url, draft.reference, cookies[draft.pk], barrier, outcomes[index]),
                daemon=True,
            )
            for index, draft in enumerate(drafts)
        ]
        for thread in threads:
            thread.start()
        try:
            barrier.wait(timeout=300)
        except threading.BrokenBarrierError:
            pass
        burst_start = time.monotonic()
        for thread in threads:
            thread.join(timeout=600)
        ended = [o["ended"] for o in outcomes if "ended" in o]
        burst = (max(ended) - burst_start) if ended else float("nan")
        errors = [
            f"{draft.reference}: {o.get('error') or o.get('status')}"
            for draft, o in zip(drafts, outcomes, strict=True)
            if o.get("error")
            or o.get("status") != 302
            or not o.get("location", "").endswith(f"/{draft.reference}/")
        ]
        latencies = [o["latency"] for o in outcomes if "latency" in o]
        result.figures = {
            "dossiers": count,
            "burst_s": burst,
            "per_second": count / burst if burst else None,
            "p50_s": percentile(latencies, 50),
            "p99_s": percentile(latencies, 99),
            "max_s": max(latencies, default=float("nan")),
        }
        result.table(
            f"{count} applicants posting « Déposer » at once (one thread each) to gunicorn "
            f"({server.workers} sync workers), receipts rendered by {len(workers.processes)} worker(s)",
            ["Submissions", "Burst", "Submissions/s", "p50", "p99", "Max", "Errors"],
            [
                [
                    count,
                    f"{burst:.1f} s",
                    f"{count / burst:.1f}" if burst else "—",
                    f"{result.figures['p50_s'] * 1000:.0f} ms",
                    f"{result.figures['p99_s'] * 1000:.0f} ms",
                    f"{result.figures['max_s'] * 1000:.0f} ms",
                    len(errors),
                ]
            ],
        )
        result.check(
            "no HTTP error", not errors, "; ".join(errors[:5]) or f"{count} redirects to the dossier page"
        )

        ids = [draft.pk for draft in drafts]
        receipts = Document.objects.filter(
            kind="receipt", key__in=[f"application:{pk}:receipt:1" for pk in ids]
        )
        emails = OutgoingEmail.objects.filter(key__in=[f"application:{pk}:receipt-email:1" for pk in ids])
        ctx.log("waiting for the receipts and their e-mails")
        deadline = time.monotonic() + max(900, count * 3)
        receipts_done_at = None
        while True:
            if receipts_done_at is None and receipts.filter(status=Status.DONE).count() == count:
                receipts_done_at = time.monotonic()
            if receipts_done_at is not None and emails.filter(status=Status.DONE).count() == count:
                break
            failed = receipts.exclude(last_error="").values_list("key", "last_error").first()
            if failed or time.monotonic() > deadline:
                result.check(
                    "every receipt rendered",
                    False,
                    f"{receipts.filter(status=Status.DONE).count()}/{count} receipts"
                    + (f", {failed[0]}: {failed[1][:300]}" if failed else ", timed out"),
                )
            for process in workers.processes:
                process.alive()
            time.sleep(0.5)
        result.figures["receipts_after_burst_s"] = (receipts_done_at or time.monotonic()) - burst_start
        result.figures["emails_after_burst_s"] = time.monotonic() - burst_start

    applications = Application.objects.filter(pk__in=ids)
    submitted = applications.filter(status=Application.Status.SUBMITTED).count()
    changes = (
        StatusChange.objects.filter(application_id__in=ids, to_status=Application.Status.SUBMITTED)
        .values("application_id")
        .annotate(n=Count("pk"))
    )
    once = sum(1 for row in changes if row["n"] == 1)
    references = list(applications.values_list("reference", flat=True))
    result.check("every dossier submitted, none lost", submitted == count, f"{submitted}/{count} submitted")
    result.check(
        "each dossier submitted exactly once", once == count, f"{once}/{count} with one « déposé » change"
    )
    result.check(
        "no duplicate reference",
        len(set(references)) == count,
        f"{len(set(references))} distinct references for {count} dossiers",
    )
    keys = list(receipts.values_list("key", flat=True))
    names = list(receipts.values_list("filename", flat=True))
    result.check(
        "one receipt per dossier, submission number 1, no duplicate receipt",
        len(keys) == count and len(set(keys)) == count and len(set(names)) == count,
        f"{len(set(keys))} receipts, {len(set(names))} distinct file names",
    )
    done = receipts.filter(status=Status.DONE).exclude(Q(file="") | Q(sha256="")).count()
    once_rendered = receipts.filter(attempts=1).count()
    result.check(
        "every receipt rendered, exactly once",
        done == count and once_rendered == count,
        f"{done} rendered with file and SHA-256, {once_rendered} in one attempt",
    )
    sent = emails.filter(status=Status.DONE).count()
    result.check("every receipt e-mail sent", sent == count, f"{sent}/{count}")
    result.table(
        "After the burst",
        ["Receipts rendered", "E-mails sent", "All receipts rendered after", "All e-mails sent after"],
        [
            [
                done,
                sent,
                f"{result.figures['receipts_after_burst_s']:.1f} s",
                f"{result.figures['emails_after_burst_s']:.1f} s",
            ]
        ],
    )
    result.note(
        f"The {count} POSTs leave together; gunicorn's {2 * ctx.cores + 1} sync workers take them "
        "in turn, so p99 is mostly the wait in gunicorn's queue. Each submission writes the status "
        "change, the receipt row and the e-mail row in one transaction and queues the PDF on Redis "
        "after commit; the receipts are rendered by the workers meanwhile, on the same cores. "
        "The e-mails wait for their receipt on the e-mail queue (retried with a back-off): their "
        "delay measures the back-off, not the workers."
    )
    return result.as_dict()
