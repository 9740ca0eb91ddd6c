"""Small apps, their configs per stage, and release from staging to production."""
