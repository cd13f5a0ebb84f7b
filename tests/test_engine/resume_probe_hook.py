# Copyright (c) mmfa contributors. All rights reserved.
"""A test-only hook for tests/test_engine/test_preemption.py, imported by a test
config through ``custom_imports`` (this directory is put on PYTHONPATH): it saves
the model and optimizer state a resumed run starts from, i.e. right after
``Runner.resume`` and before the first training iteration."""
import copy
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmfa.registry import HOOKS


@HOOKS.register_module()
class ResumeProbeHook(Hook):
    """Writes ``work_dir/resume_probe.pth`` in ``before_train`` of a resumed run."""

    def before_train(self, runner) -> None:
        from mmengine.dist import is_main_process
        if runner.iter == 0 or not is_main_process():
            return  # one file: the ranks resume the same state
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        torch.save(
            dict(
                iter=runner.iter,
                epoch=runner.epoch,
                state_dict=copy.deepcopy(model.state_dict()),
                optimizer=copy.deepcopy(runner.optim_wrapper.state_dict())),
            osp.join(runner.work_dir, 'resume_probe.pth'))
