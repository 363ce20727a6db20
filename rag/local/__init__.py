"""Local models: packaged GGUF files and llama.cpp's server on this machine."""
