"""Platform adapters, wiring and the command line of coopbot."""
