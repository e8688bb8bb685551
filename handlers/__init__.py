"""The platform-neutral governance core: co-ops, the register, proposals and votes."""
