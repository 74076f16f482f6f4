"""Fund pages (filled in below)."""
