"""Every task module; importing one registers its task. Add a new task's module here."""

from zoo.tasks import curve, house_prices, mnist_scratch, two_spirals, usps  # noqa: F401
