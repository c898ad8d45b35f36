"""The PySide6 tray app (imported as gum.ui). It talks to the agent only through the local API."""
