"""Proposals and deliberation (议题): collecting supports, consultation, moderation. Built in its own issue."""
