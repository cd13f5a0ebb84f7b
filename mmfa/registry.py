# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa's registries: children of mmpretrain's (themselves children of mmengine's), so a
config with ``default_scope='mmfa'`` finds mmfa's components first and falls back to
mmpretrain's and mmengine's (``type='NonLinearNeck'``, ``type='LARS'``, ``type='Runner'``).
Modules are imported lazily from ``locations`` when a registry is first searched.
"""
from mmpretrain.registry import BATCH_AUGMENTS as MMPRETRAIN_BATCH_AUGMENTS
from mmpretrain.registry import DATA_SAMPLERS as MMPRETRAIN_DATA_SAMPLERS
from mmpretrain.registry import DATASETS as MMPRETRAIN_DATASETS
from mmpretrain.registry import EVALUATORS as MMPRETRAIN_EVALUATORS
from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
from mmpretrain.registry import LOG_PROCESSORS as MMPRETRAIN_LOG_PROCESSORS
from mmpretrain.registry import LOOPS as MMPRETRAIN_LOOPS
from mmpretrain.registry import METRICS as MMPRETRAIN_METRICS
from mmpretrain.registry import MODEL_WRAPPERS as MMPRETRAIN_MODEL_WRAPPERS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import OPTIM_WRAPPERS as MMPRETRAIN_OPTIM_WRAPPERS
from mmpretrain.registry import OPTIMIZERS as MMPRETRAIN_OPTIMIZERS
from mmpretrain.registry import PARAM_SCHEDULERS as MMPRETRAIN_PARAM_SCHEDULERS
from mmpretrain.registry import \
    RUNNER_CONSTRUCTORS as MMPRETRAIN_RUNNER_CONSTRUCTORS
from mmpretrain.registry import RUNNERS as MMPRETRAIN_RUNNERS
from mmpretrain.registry import TASK_UTILS as MMPRETRAIN_TASK_UTILS
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmpretrain.registry import VISBACKENDS as MMPRETRAIN_VISBACKENDS
from mmpretrain.registry import VISUALIZERS as MMPRETRAIN_VISUALIZERS
from mmpretrain.registry import \
    WEIGHT_INITIALIZERS as MMPRETRAIN_WEIGHT_INITIALIZERS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS'
]

#######################################################################
#                           mmfa.engine                               #
#######################################################################
RUNNERS = Registry(
    'runner', parent=MMPRETRAIN_RUNNERS, locations=['mmfa.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor',
    parent=MMPRETRAIN_RUNNER_CONSTRUCTORS,
    locations=['mmfa.engine'])
LOOPS = Registry('loop', parent=MMPRETRAIN_LOOPS, locations=['mmfa.engine'])
HOOKS = Registry('hook', parent=MMPRETRAIN_HOOKS, locations=['mmfa.engine'])
LOG_PROCESSORS = Registry(
    'log processor',
    parent=MMPRETRAIN_LOG_PROCESSORS,
    locations=['mmfa.engine'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMPRETRAIN_OPTIMIZERS, locations=['mmfa.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMPRETRAIN_OPTIM_WRAPPERS,
    locations=['mmfa.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmfa.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMPRETRAIN_PARAM_SCHEDULERS,
    locations=['mmfa.engine'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMPRETRAIN_MODEL_WRAPPERS,
    locations=['mmfa.engine'])

#######################################################################
#                           mmfa.datasets                             #
#######################################################################
DATASETS = Registry(
    'dataset', parent=MMPRETRAIN_DATASETS, locations=['mmfa.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMPRETRAIN_DATA_SAMPLERS,
    locations=['mmfa.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMPRETRAIN_TRANSFORMS, locations=['mmfa.datasets'])
# collate functions (mmpretrain has no FUNCTIONS child: mmengine's is the parent,
# so type='default_collate' still resolves)
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, locations=['mmfa.datasets'])

#######################################################################
#                           mmfa.models                               #
#######################################################################
MODELS = Registry('model', parent=MMPRETRAIN_MODELS, locations=['mmfa.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMPRETRAIN_WEIGHT_INITIALIZERS,
    locations=['mmfa.models'])
BATCH_AUGMENTS = Registry(
    'batch augment',
    parent=MMPRETRAIN_BATCH_AUGMENTS,
    locations=['mmfa.models'])
TASK_UTILS = Registry(
    'task util', parent=MMPRETRAIN_TASK_UTILS, locations=['mmfa.models'])

#######################################################################
#                           mmfa.evaluation                           #
#######################################################################
METRICS = Registry(
    'metric', parent=MMPRETRAIN_METRICS, locations=['mmfa.evaluation'])
EVALUATORS = Registry(
    'evaluator', parent=MMPRETRAIN_EVALUATORS, locations=['mmfa.evaluation'])

#######################################################################
#                           mmfa.visualization                        #
#######################################################################
# mmengine imports only the searched registry's own locations, not its
# parents': name mmpretrain's so its UniversalVisualizer is found without an
# earlier ``import mmpretrain.visualization``.
VISUALIZERS = Registry(
    'visualizer',
    parent=MMPRETRAIN_VISUALIZERS,
    locations=['mmfa.engine', 'mmpretrain.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMPRETRAIN_VISBACKENDS,
    locations=['mmfa.engine', 'mmpretrain.visualization'])
