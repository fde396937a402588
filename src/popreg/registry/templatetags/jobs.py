"""``{% load jobs %}{% job_progress job %}``: the progress component of a job on any page."""

from __future__ import annotations

from typing import Any

from django import template

from popreg.registry.job_models import Job
from popreg.registry.jobs import progress_data

register = template.Library()


@register.inclusion_tag("registry/_job_progress.html", takes_context=True)
def job_progress(context: template.Context, job: Job, reload: bool = False) -> dict[str, Any]:
    """Render the progress component for ``job`` (the page's context must hold ``actor``)."""
    return {
        "data": progress_data(context["actor"], job),
        "reload": reload,
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
