"""Organizations and their members; later meetings, minutes and notices."""
