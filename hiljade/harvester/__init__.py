"""Sources: one module per platform, the poll loop with cursors, safe media download."""
