"""The service layer: the one write path for the operational store's entities (see README.md here)."""
