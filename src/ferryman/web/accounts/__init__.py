"""Accounts on the page: people with their own sign-in (a password, a passkey), their own
API tokens, their own jobs, watches and links; administrators see everyone's.

``who`` (who is asking, and what of theirs a request may reach), ``passwords``
(argon2id through argon2-cffi), ``identify`` (a request's person, from a token or a
session), ``routes`` (sign-in, tokens, the admin view, the audit, the chat link),
``passkeys`` (WebAuthn through py_webauthn), ``limits`` (a person's limits).
"""
