"""The guide's code examples, run verbatim against the reference implementation."""
