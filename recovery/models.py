"""Models of the recovery app."""
