"""Read-side queries of the collaboration app, one module per concept."""
