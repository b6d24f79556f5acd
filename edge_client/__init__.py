"""edge_client package (see ../shared/docs/architecture.md)."""
