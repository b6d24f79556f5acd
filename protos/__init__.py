"""protos package (see ../shared/docs/architecture.md)."""
