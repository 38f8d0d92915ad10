"""Request handlers, one module per area; each exports ``HANDLERS: {request class: handler}``."""

from faketg.handlers import (
    auth,
    bots,
    core,
    dcs,
    downloads,
    messages,
    topics,
    updates,
    uploads,
)

TABLES = (
    core.HANDLERS,
    auth.HANDLERS,
    uploads.HANDLERS,
    messages.HANDLERS,
    updates.HANDLERS,
    downloads.HANDLERS,
    dcs.HANDLERS,
    bots.HANDLERS,
    topics.HANDLERS,
)
