"""Calibration: fit the model to observed uptake with ABC-SMC and check the fit.

- :mod:`sim.calibrate.observed`: the observed data formats (aggregate counts; adoption times
  with a network) and their checks;
- :mod:`sim.calibrate.targets`: which model output each series is compared with, binomial and
  beta-binomial likelihoods, curve distances;
- :mod:`sim.calibrate.priors`: priors of the fitted parameters;
- :mod:`sim.calibrate.abc`: the ABC-SMC sampler (reproducible from a seed, restartable);
- :mod:`sim.calibrate.config`: calibration files;
- :mod:`sim.calibrate.pipeline`: file → simulations on the experiment engine → outputs;
- :mod:`sim.calibrate.plots`, :mod:`sim.calibrate.scenario_file`: figures, calibrated scenario.
"""

from sim.calibrate.abc import ABCResult, ABCSettings, Generation, abc_smc
from sim.calibrate.config import Calibration, calibration_from_dict, load_calibration
from sim.calibrate.observed import ObservedSeries, read_adoption_times, read_aggregate
from sim.calibrate.pipeline import CalibrationReport, run_calibration
from sim.calibrate.priors import Prior
from sim.calibrate.targets import Target

__all__ = ["ABCResult", "ABCSettings", "Calibration", "CalibrationReport", "Generation",
           "ObservedSeries", "Prior", "Target", "abc_smc", "calibration_from_dict",
           "load_calibration", "read_adoption_times", "read_aggregate", "run_calibration"]
