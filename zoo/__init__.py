"""The zoo: Keras 3 models of five deep-learning practical reports, one registry.

    >>> import zoo
    >>> zoo.list_tasks()
    ['two_spirals', 'usps', ...]
    >>> task = zoo.get_task("usps"); model = task.build("default", task.load())
    >>> model, card = zoo.load("cats_dogs")            # a shipped model and its card
    >>> zoo.predict((model, card), ["my_cat.jpg"])     # [{'input': 'my_cat.jpg', 'class': 'cat', ...}]

Importing ``zoo`` starts the backend quietly (:mod:`zoo.startup`) and registers every task
(:mod:`zoo.tasks`). ``__all__`` is the public API; ``dir(zoo)`` shows it and nothing else.
"""

from zoo.startup import start_backend

start_backend()

from data_prep.errors import ZooError  # noqa: E402
from zoo.tasks import Recipe, Task, Variant, get_task, list_tasks  # noqa: E402

__all__ = ["Recipe", "Task", "Variant", "ZooError", "get_task", "list_tasks", "load", "predict"]


def load(name, unsafe: bool = False):
    """A shipped model by name (``"cats_dogs"``) or a ``.keras`` path, with its card: ``(model, card)``."""
    from zoo.predict import load as load_model_and_card

    return load_model_and_card(name, unsafe)


def __getattr__(name):
    if name == "predict":  # the module zoo.predict is itself callable: zoo.predict(model, inputs)
        import importlib

        return importlib.import_module("zoo.predict")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return list(__all__)


del start_backend
