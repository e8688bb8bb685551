"""Deadlines and reminders: what is due is derived from storage; a clock wakes the due work."""
