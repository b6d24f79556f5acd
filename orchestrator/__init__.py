"""orchestrator package (see ../shared/docs/architecture.md)."""
