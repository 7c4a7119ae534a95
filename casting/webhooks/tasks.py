"""RQ jobs of the webhooks layer."""
from casting.webhooks.services import InboundMessage, run_inbound_handlers


def handle_inbound(message):
    """Run the registered handlers for one inbound WhatsApp message (a dict of InboundMessage)."""
    return run_inbound_handlers(InboundMessage(**message))
