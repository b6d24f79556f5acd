"""bundle package (see ../shared/docs/architecture.md)."""
