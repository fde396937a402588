"""What the migrants app tells the rest of the product.

``migrant_event`` is sent after the transaction of an in-migrant action commits (never for
a write that rolled back), with keyword arguments

- ``sender``: the action function (``register_in_migrant``, ``move_in_migrant``,
  ``depart_in_migrant``, ``issue_permit``),
- ``kind``: the message type of the exchange between deployments: ``migrant_registered``,
  ``migrant_moved``, ``migrant_departed`` or ``permit_issued``,
- ``person``: the registry :class:`~popreg.registry.models.Person`,
- ``detail``: a JSON-able dict (residence unit and its name, origin code, arrival date,
  reason, employer, contact; the permit's number and dates; the departure date and
  destination), dates as ISO strings.

The exchange app listens to it to notify the place of registration.
"""

from __future__ import annotations

from django.dispatch import Signal

#: The kinds ``migrant_event`` is sent with.
EVENT_KINDS = ("migrant_registered", "migrant_moved", "migrant_departed", "permit_issued")

migrant_event = Signal()
