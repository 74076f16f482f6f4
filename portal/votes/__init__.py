"""Ballots, tallies and receipts (表决). Built in its own issue."""
