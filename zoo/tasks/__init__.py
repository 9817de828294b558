"""The tasks: the registry's face, then every task module (importing one registers its task).

Add a new task's module to the import line below (docs/adding-a-task.md walks through it).
"""

from zoo.registry import Recipe, Task, Variant, get_task, list_tasks, register  # noqa: F401
from zoo.tasks import (  # noqa: F401, E402
    cats_dogs, colored_usps, curve, house_prices, mnist, mnist_pairs, mnist_scratch, two_spirals, usps,
)
