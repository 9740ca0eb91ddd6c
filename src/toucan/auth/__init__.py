"""Authentication and authorisation: passwords, tokens, users, groups, privileges."""
