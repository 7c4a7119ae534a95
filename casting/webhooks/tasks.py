"""RQ jobs of the webhooks layer."""


def handle_inbound(message):
    """Run the registered handlers for one inbound WhatsApp message (a dict of InboundMessage)."""
    # here, not above: the services enqueue these tasks
    from casting.webhooks.services import InboundMessage, run_inbound_handlers
    return run_inbound_handlers(InboundMessage(**message))
