-- Run once when the database is created: the store's tables need the vector type.
CREATE EXTENSION IF NOT EXISTS vector;
