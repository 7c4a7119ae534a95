"""Bulk export of talent for the ML service and partners. Other domains import nothing from it."""
