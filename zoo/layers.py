"""Layers the zoo needs beyond Keras' own, registered so saved models reload."""

import keras


@keras.saving.register_keras_serializable(package="zoo")
class RandomShear(keras.layers.RandomShear):
    """``keras.layers.RandomShear`` that reloads from its own config.

    Keras (3.15) writes a symmetric factor f as the range [-f, f] in get_config but its
    constructor refuses negative numbers, so a saved model with RandomShear cannot be
    loaded. This subclass writes the magnitude back for symmetric ranges.
    """

    def get_config(self):
        config = super().get_config()
        for key in ("x_factor", "y_factor"):
            low, high = config[key]
            if low == -high:
                config[key] = high
        return config
