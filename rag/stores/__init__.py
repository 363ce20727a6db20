"""Where chunks and their vectors live."""
