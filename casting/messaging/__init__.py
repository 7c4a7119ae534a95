"""Conversations and messages: REST and the Socket.IO `/chat` namespace. Other domains import nothing from it."""
