"""Job kind of the exchange (see :mod:`popreg.registry.jobs`).

``exchange_deliver`` sends every due message of the outbox over HTTP once (what
``popreg exchange deliver`` does).  It is started when a message is queued (after the
commit) and from the status page.  Each message's state is written as its delivery
ends (an ack is a fact of the peer's, not a result to roll back), so a worker killed
half-way leaves the rest pending, and the next run sends them.  Messages waiting for
their back-off are sent by the next run; ``popreg exchange deliver --loop`` beside the
worker runs one whenever a message falls due.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.exchange import transport
from popreg.registry import jobs as runner
from popreg.registry.policy import Permission


def run_delivery(ctx: runner.JobContext) -> None:
    ctx.progress(0, 1, "delivering")
    report = transport.deliver(progress=lambda done, total: ctx.progress(done, total, "delivering"))
    ctx.message(
        f"已确认 {report.acked} 条，待重试 {report.retry} 条，失败 {report.failed} 条",
        f"{report.acked} acknowledged, {report.retry} to retry, {report.failed} failed",
    )
    with ctx.applying():
        ctx.set_result(url=reverse("exchange:status"), data=report.as_dict())


runner.register(
    runner.JobKind(
        name=transport.JOB_KIND,
        label=gettext_noop("Exchange delivery"),
        permission=Permission.MANAGE_EXCHANGE,
        handler=run_delivery,
        stages={"delivering": gettext_noop("Sending messages to other counties")},
        exclusive=True,
    )
)
