"""The zoo: Keras 3 models of five deep-learning practical reports, one registry.

    >>> import zoo
    >>> zoo.list_tasks()
    ['two_spirals', 'usps', ...]
    >>> task = zoo.get_task("usps"); model = task.build("default", task.load())
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the CLI

from data_prep.errors import ZooError  # noqa: E402
from zoo.registry import Recipe, Task, Variant, get_task, list_tasks  # noqa: E402

__all__ = ["Recipe", "Task", "Variant", "ZooError", "get_task", "list_tasks"]
