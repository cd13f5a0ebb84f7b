# Copyright (c) mmfa contributors. All rights reserved.
"""Helpers shared by mmfa's tests."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def make_image_folder(root, num_images=8, size=32, seed=0, classes=None):
    """Write random RGB PNGs in an mmpretrain CustomDataset layout."""
    rng = np.random.default_rng(seed)
    classes = classes or ['a', 'b']
    for i in range(num_images):
        cls_dir = osp.join(root, classes[i % len(classes)])
        os.makedirs(cls_dir, exist_ok=True)
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(img).save(osp.join(cls_dir, f'{i:03d}.png'))
    return root


def run_tool(args, timeout=600, env=None, check=True):
    """Run ``python <args>`` from the repository root; return the process."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    full_env.update(env or {})
    proc = subprocess.run([sys.executable] + list(args),
                          cwd=ROOT,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
    return proc


def load_tool(rel):
    """Import a script under tools/ (not a package) as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(rel))[0], osp.join(ROOT, rel))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vector_dataset(num, dim, seed=0):
    """A map-style dataset of ``num`` random ``dim``-vectors, ``dict(inputs=x)``."""
    import torch
    x = torch.randn(num, dim, generator=torch.Generator().manual_seed(seed))

    class _VectorDataset(torch.utils.data.Dataset):

        def __len__(self):
            return num

        def __getitem__(self, i):
            return dict(inputs=x[i])

    return _VectorDataset()
