"""Experiments at scale: designs, common random numbers, Dask batches, a resumable store."""

from sim.experiment.design import Experiment, Run, experiment_from_dict, load_experiment
from sim.experiment.execute import run_experiment
from sim.experiment.report import write_report
from sim.experiment.store import ResultStore

__all__ = ["Experiment", "ResultStore", "Run", "experiment_from_dict", "load_experiment",
           "run_experiment", "write_report"]
