"""Data sources, profiling, checks and splits: everything before the search.

``load_source`` reads any source params.yaml can name; ``profile_dataset`` describes a table;
``prepare_dataset`` checks it, infers the task and splits it.
"""

from automl.data.prepare import PreparedData, prepare_dataset
from automl.data.profile import content_hash, profile_dataset
from automl.data.sources import describe_source, load_demo, load_source
from automl.data.task import Task, infer_task

__all__ = [
    "PreparedData",
    "Task",
    "content_hash",
    "describe_source",
    "infer_task",
    "load_demo",
    "load_source",
    "prepare_dataset",
    "profile_dataset",
]
