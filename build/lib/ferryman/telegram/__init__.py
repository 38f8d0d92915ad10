"""Telegram: the client and its connections, login, uploads, the sink and the chat front door."""
