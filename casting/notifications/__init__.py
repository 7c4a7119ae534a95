"""Notifications over WhatsApp, SMS and email: templates, providers, delivery jobs.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["NotificationError", "NotificationFlood", "Recipient", "apply_status", "notify", "notify_user",
                 "preferred_channel"]
})
