"""gum's own observers and model back-ends, registered through the same hooks a third-party plugin uses."""
