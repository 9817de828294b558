"""The one exception type users see: a message that says what is wrong and what to do."""


class ZooError(Exception):
    """A problem with the user's input (paths, files, options), not a bug in the zoo.

    The command-line tools print its message on one line and exit with status 2,
    never a traceback.
    """
