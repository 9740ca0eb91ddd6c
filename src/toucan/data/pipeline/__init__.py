"""The weaverbird pipeline language: typed steps and their compilation to DuckDB SQL."""
