"""The accuracy benchmark: count error, tracking scores and speed on fixed real cases."""
