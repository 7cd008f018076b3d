"""Stage embed: one vector per pool item, from the protocol's embedder; the files that hold them."""
