"""The index: speaker turns into chunks, embedded and committed to a store; one person across documents."""
