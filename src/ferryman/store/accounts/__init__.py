"""People on the page: accounts, tokens, passkeys, link codes and the audit (SQL, memory)."""
