"""The windows and dialogs of the tray app."""
