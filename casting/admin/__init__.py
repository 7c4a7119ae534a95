"""Administration: role changes, API keys and the audit log, for admins. Other domains import nothing from it."""
