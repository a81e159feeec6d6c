"""Experiments: reproducible training runs, their evaluation, model selection, Dask execution, τ sweeps and the
demo, the paper's experiments — the layer between the library (models, training, measures) and the command line.

=====================  ==========================================================================================
:mod:`.spec`           run specs (:func:`make_spec`, :func:`run_id`, :data:`DEFAULT_SETTINGS`, :data:`BASELINES`)
:mod:`.evaluation`     the evaluation protocol (:func:`evaluate_model`: free runs from several test observations)
:mod:`.selection`      checkpoint selection by free runs over the training series (:class:`Selection`)
:mod:`.run`            one run as a job (:func:`execute_run`, :func:`load_result`, :func:`run_paths`)
:mod:`.cluster`        the Dask layer (:func:`open_client`, :func:`run_specs`); Dask is the ``sweep`` extra
:mod:`.sweep`          τ sweeps and their summary (:func:`run_sweep`, :func:`summarize`)
:mod:`.demo`           the Lorenz demo and its report (:func:`run_demo`), the machinery both demos share
:mod:`.demo_data`      the demo on a measured series (:func:`run_data_demo`, ``fastrnn demo --data FILE``)
:mod:`.reproduce`      the paper's experiments: ``fastrnn reproduce``, :func:`reproduce_experiment`, :data:`EXPERIMENTS`
:mod:`.paper_numbers`  the paper's published numbers, typed in once (:data:`PAPER`, :func:`paper_value`)
=====================  ==========================================================================================

Importing this package imports neither Dask nor matplotlib; they are loaded when runs execute or figures are drawn.
"""
from .cluster import DaskMissingError, open_client, run_specs
from .demo import DEMO_MODEL_SETTINGS, DEMO_SETTINGS, run_demo
from .demo_data import DATA_DEMO_MODEL_SETTINGS, run_data_demo
from .paper_numbers import PAPER, paper_value
from .reproduce import EXPERIMENTS, ReproduceResult, reproduce_experiment
from .evaluation import diverged, evaluate_model, evaluate_segments, free_run
from .run import execute_run, keep_heap_memory, load_result, run_paths
from .selection import Selection, selection_score
from .spec import BASELINES, DEFAULT_SETTINGS, fit_arguments, make_spec, run_id, split_series
from .sweep import SweepResult, run_sweep, summarize

__all__ = ["BASELINES", "DATA_DEMO_MODEL_SETTINGS", "DEFAULT_SETTINGS", "DEMO_MODEL_SETTINGS", "DEMO_SETTINGS",
           "DaskMissingError", "EXPERIMENTS", "PAPER", "ReproduceResult", "Selection", "SweepResult", "diverged",
           "evaluate_model", "evaluate_segments", "execute_run", "fit_arguments", "free_run", "keep_heap_memory",
           "load_result", "make_spec", "open_client", "paper_value", "reproduce_experiment", "run_data_demo",
           "run_demo", "run_id", "run_paths", "run_specs", "run_sweep", "selection_score", "split_series",
           "summarize"]
