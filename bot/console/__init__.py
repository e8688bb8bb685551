"""The terminal chat: `coopbot console`."""
