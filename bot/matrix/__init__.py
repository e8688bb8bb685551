"""The Matrix adapter, on matrix-nio (end-to-end encryption included)."""
