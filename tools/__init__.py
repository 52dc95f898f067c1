"""Maintenance tools run from the repository root as ``python -m tools.<name>``: fetching the
pretrained networks' files, regenerating reference data and tables, and the hostile-input probe."""
