"""What health tells other domains (see `tether/reactions.py`)."""

from dataclasses import dataclass
from datetime import datetime

from tether.events import DomainEvent
from tether.models import Incident


@dataclass(frozen=True)
class IncidentOpened(DomainEvent):
    incident: Incident
    at: datetime


@dataclass(frozen=True)
class IncidentClosed(DomainEvent):
    incident: Incident
    at: datetime
