"""The desktop build's entry point: the `gum` command (PyInstaller runs this as __main__)."""

from gum.cli import main

main(prog_name="gum")
