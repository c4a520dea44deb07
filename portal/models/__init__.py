"""The product's tables; import models from here."""

from portal.models.organizers import BackofficeUser, Organizer
from portal.models.orders import Order, OrderEvent, OrderStatus
from portal.models.outbox import MessageStatus, OutgoingMessage
from portal.models.shops import Shop
from portal.models.tickets import Ticket, TicketStatus
from portal.models.timed_mail import TimedMail

__all__ = [
    "BackofficeUser",
    "MessageStatus",
    "Order",
    "OrderEvent",
    "OrderStatus",
    "Organizer",
    "OutgoingMessage",
    "Shop",
    "Ticket",
    "TicketStatus",
    "TimedMail",
]
