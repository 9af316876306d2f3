"""Executable documentation: every code block of README.md, docs/ and examples/README.md runs."""
