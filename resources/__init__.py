"""Prompts, icons and the default config, shipped as package data (imported as gum.resources)."""
