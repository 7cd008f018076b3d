"""Stage select: the selector contract, the cached select stage, subset files, and shared similarity tools."""
