"""Write operations of the loyalty app, one module per concern (see STYLE.md)."""
