"""KerasTuner searches over the zoo's tasks (``python -m tuning.search``; see issue 6)."""
