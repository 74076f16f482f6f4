"""Dashboard page tests: the issues world (tests/issues) plus issues with known responses and ratings."""
