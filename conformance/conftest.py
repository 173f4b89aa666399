"""The conformance suite runs on the plugin's fixtures only; nothing here binds it to
one implementation. Choose the implementation with --serve-impl."""
