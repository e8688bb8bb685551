"""Persistence for coopbot: tables, stores and migrations (no platform library is imported here)."""
