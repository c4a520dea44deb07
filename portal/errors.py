"""Domain exceptions: services raise them, views turn them into a message or a status code."""

from flask_babel import lazy_gettext as _l


class PortalError(Exception):
    """A rule of the product refused an action; the message is safe to show to the user."""

    #: HTTP status a view answers with when it cannot recover.
    status_code = 409
    message = _l("This action is not possible.")

    def __init__(self, message: object = None) -> None:
        super().__init__(message or self.message)


class LinkError(PortalError):
    """A link that cannot be honoured; the page offers to send a fresh one where one would help."""

    status_code = 404
    #: Whether "send me a new link" can help: not when the event is over, nor for a ticket someone else took.
    offers_new_link = True


class LinkInvalid(LinkError):
    status_code = 404
    message = _l("This link is not valid. It may be incomplete or mistyped.")


class LinkExpired(LinkError):
    status_code = 410
    message = _l("This event is over, so its links no longer work.")
    offers_new_link = False


class LinkRevoked(LinkError):
    status_code = 410
    message = _l("This link has been replaced by a newer one and no longer works.")


class TicketTakenByBooker(LinkRevoked):
    """The booker filled in a ticket they had shared: the share link stopped working."""

    message = _l(
        "The person who shared this ticket with you has filled in its details themselves, so this link no "
        "longer works and nothing was saved. If you still need a ticket, ask them to share another one with you."
    )
    offers_new_link = False


class ShareLinkReplaced(LinkRevoked):
    """The ticket was shared again: only the newest share link works."""

    message = _l(
        "This ticket has been shared again with a newer link, so this one no longer works and nothing was saved. "
        "Ask the person who shared it with you for the newest link."
    )
    offers_new_link = False


class OrderCancelled(LinkError):
    status_code = 410
    message = _l("This order has been cancelled. Its tickets are no longer valid.")


class TicketAlreadyPersonalised(PortalError):
    message = _l("This ticket has already been personalised and cannot be changed here.")


class TicketChangedMeanwhile(PortalError):
    message = _l(
        "This ticket was shared or changed since you opened the page, so nothing was done. "
        "Here it is as it is now: share it again if you still want to."
    )


class PersonalisationClosed(PortalError):
    """The personalisation deadline has passed: consumers can no longer claim, share or fill in tickets."""

    status_code = 403
    message = _l("Personalisation has closed: tickets can no longer be claimed, shared or filled in.")

    def __init__(self, order: object = None, ticket: object = None) -> None:
        super().__init__()
        #: The order (and, on a recipient's page, the ticket) whose page explains the closing.
        self.order = order
        self.ticket = ticket


class OwnDeadlineNeeded(PortalError):
    message = _l(
        "This order's personalisation deadline has passed: give it a deadline of its own, in the future, to reopen it."
    )


class PersonalisationNotRequired(PortalError):
    message = _l("Tickets of this event need no personal details.")


class DownloadDisabled(PortalError):
    status_code = 403
    message = _l("The organizer has switched off downloading tickets here. You will receive your ticket by other means.")


class TicketNotReady(PortalError):
    status_code = 403
    message = _l("This ticket can be downloaded once its holder's details have been filled in.")


class BackofficeUserExists(PortalError):
    message = _l("A backoffice user with this email address already exists.")


class PasswordTooShort(PortalError):
    status_code = 422
    message = _l("Choose a password of at least 10 characters.")
