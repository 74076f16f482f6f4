"""Sub-districts, communities, buildings, households, owners and residents."""
