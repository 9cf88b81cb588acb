"""Sensitivity analysis with SALib (SPEC §9).

Factors come from the parameter declarations; a stochastic model gets replicates; runs go
through the experiment engine (Dask, resumable); indices come with intervals, a noise report,
a convergence check and plots.

- :mod:`~sim.sensitivity.problem`: SA files → validated spec and SALib problem;
- :mod:`~sim.sensitivity.methods`: Morris, Sobol', eFAST, PAWN behind one signature;
- :mod:`~sim.sensitivity.evaluate`: sample rows → runs (model or test function);
- :mod:`~sim.sensitivity.noise`: how much of the variance is seed noise;
- :mod:`~sim.sensitivity.pipeline`: the whole analysis and its files;
- :mod:`~sim.sensitivity.plots`: the figures.
"""

from sim.sensitivity.evaluate import Evaluation, ModelEvaluator, TestFunctionEvaluator
from sim.sensitivity.methods import METHODS, Method, make_method
from sim.sensitivity.noise import noise_report, noise_table
from sim.sensitivity.pipeline import SAResult, run_sensitivity
from sim.sensitivity.problem import Factor, Output, SASpec, load_spec, spec_from_dict

__all__ = ["METHODS", "Evaluation", "Factor", "Method", "ModelEvaluator", "Output", "SAResult",
           "SASpec", "TestFunctionEvaluator", "load_spec", "make_method", "noise_report",
           "noise_table", "run_sensitivity", "spec_from_dict"]
