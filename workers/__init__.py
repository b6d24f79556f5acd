"""workers package (see ../shared/docs/architecture.md)."""
