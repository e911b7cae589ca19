"""Reports: terminal tables, JSON."""
