"""Errors raised for input the optimiser cannot work with."""


class OptimizerInputError(ValueError):
    """Bad input, explained in one line that can be shown to the user as it is."""
