"""Small app backup and restore (`toucan_backup`, `toucan_restore`) — the backup issue."""
