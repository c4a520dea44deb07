"""The product's tables; import models from here."""

from portal.models.imports import ImportFilePart, ImportStatus, OrderImport
from portal.models.link_requests import LinkRequest
from portal.models.organizers import BackofficeSession, BackofficeUser, Organizer, Role
from portal.models.orders import Order, OrderEvent, OrderStatus
from portal.models.outbox import MessageStatus, OutgoingMessage
from portal.models.shop_keys import ShopKey
from portal.models.shops import Shop
from portal.models.tickets import Ticket, TicketStatus
from portal.models.timed_mail import TimedMail

__all__ = [
    "BackofficeSession",
    "BackofficeUser",
    "ImportFilePart",
    "ImportStatus",
    "LinkRequest",
    "MessageStatus",
    "Order",
    "OrderEvent",
    "OrderImport",
    "OrderStatus",
    "Organizer",
    "OutgoingMessage",
    "Role",
    "Shop",
    "ShopKey",
    "Ticket",
    "TicketStatus",
    "TimedMail",
]
