"""Where results live: atomic writes, the content-addressed stage cache and its locks, and run directories."""
