"""Data sets of the zoo: one loader per data set, each reading its publisher's formats.

Every loader returns a :class:`data_prep.splits.Splits` with deterministic
train / validation / test parts; where the files live is decided by
:func:`data_prep.locate.find_file`.
"""
