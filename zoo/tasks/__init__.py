"""Every task module; importing one registers its task. Add a new task's module here."""

from zoo.tasks import two_spirals, usps  # noqa: F401
