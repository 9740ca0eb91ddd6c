"""The steps of the language, one module per family: each declares its steps' models and
compiles them; data/pipeline/registry.py lists them all."""
