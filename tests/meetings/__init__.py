"""Tests of the meetings services (issue #7). `world` is the votes world (tests/votes/__init__.py); helpers in
tests/committees/meetings_helpers.py."""
