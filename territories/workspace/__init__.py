"""The manager's map workspace: the map page, its JSON and tile endpoints, and the edits made on it."""
