"""Write operations of the rewards app, one module per concern."""
