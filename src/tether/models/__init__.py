"""Every table, one module each; importing this package registers them all on Base.metadata."""

from tether.models.account import Account
from tether.models.api_token import ApiToken
from tether.models.audit_event import AuditEvent
from tether.models.authorization import Authorization
from tether.models.authorization_count import AuthorizationCount, AuthorizationCountChange
from tether.models.client import Client
from tether.models.connection import Connection
from tether.models.connection_count import ConnectionCount, ConnectionCountChange
from tether.models.incident import Incident, IncidentClient, IncidentKind, IncidentScope
from tether.models.invitation import Invitation
from tether.models.lease import Lease
from tether.models.member import Member, MemberClientAccess, Role
from tether.models.metric_day import LostDay, MetricDay
from tether.models.notification import (
    Channel,
    EmailDelivery,
    Event,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from tether.models.oauth_state import OAuthState
from tether.models.organization import Organization
from tether.models.status import AuthorizationRole, Status
from tether.models.sync_request import SyncRequest
from tether.models.web_session import SignInBrake, WebSession

__all__ = [
    "Account",
    "ApiToken",
    "AuditEvent",
    "Authorization",
    "AuthorizationCount",
    "AuthorizationCountChange",
    "AuthorizationRole",
    "Channel",
    "Client",
    "Connection",
    "ConnectionCount",
    "ConnectionCountChange",
    "EmailDelivery",
    "Event",
    "Incident",
    "IncidentClient",
    "IncidentKind",
    "IncidentScope",
    "Invitation",
    "Lease",
    "LostDay",
    "Member",
    "MemberClientAccess",
    "MetricDay",
    "Notification",
    "NotificationPreference",
    "OAuthState",
    "Organization",
    "Role",
    "SignInBrake",
    "Status",
    "SyncRequest",
    "WebSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]
