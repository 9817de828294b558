"""Every task module; importing one registers its task. Add a new task's module here."""

from zoo.tasks import (  # noqa: F401
    cats_dogs, colored_usps, curve, house_prices, mnist, mnist_pairs, mnist_scratch, two_spirals, usps,
)
