"""Change requests, comments, notifications, territory sales plans and shared read-only views."""
