"""The HTTP layer: thin routers that call the domain modules."""
