"""The entry points dvc.yaml calls (``automl stage <name>``).

Each stage reads params.yaml, calls library functions and writes the outputs dvc.yaml names;
output paths come in as arguments so dvc.yaml stays the one place that lists them. Outputs are
written all-or-nothing.
"""
