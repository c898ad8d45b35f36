"""gum-notes: the example plugin of the README ("Writing an observer"), installed and run by tests/test_plugins.py.

It adds an observer, `notes`, that reports the notes it is configured with ([plugins.notes] in config.toml),
and a model back-end, `notes-quiet`, that proposes nothing (so `gum start` needs no real model).
"""

from gum.observers import Observer

from gum.hookspecs import hookimpl
from gum.records import Observation


class Notes(Observer):
    """Each tick, one observation per configured note: (window title, text)."""

    name = "notes"

    def __init__(self, notes: list[list[str]], interval: float = 0.5):
        super().__init__()
        self.notes = notes
        self.interval = interval

    def tick(self):
        for window, text in self.notes:
            self.emit(Observation(observer=self.name, app="Notes", window=window, text=text))
        self.ok(f"{len(self.notes)} notes")


class Quiet:
    """A model that never proposes anything."""

    name = "notes-quiet"

    def complete_json(self, system, user, schema, *, max_tokens=256, temperature=0.2):
        from gum.records import Usage

        return '{"propositions": []}', Usage(prompt_tokens=0, completion_tokens=0)


@hookimpl
def register_observers(register, settings):
    register(
        "notes", lambda context: Notes(context.options.get("notes", []), context.options.get("interval", 0.5))
    )


@hookimpl
def register_models(register):
    register("notes-quiet", lambda spec, settings: Quiet())
