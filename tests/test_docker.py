# Copyright (c) mmfa contributors. All rights reserved.
"""No Docker engine runs here: check the Dockerfile against the project's pins."""
import os.path as osp
import re

from tests.utils import ROOT


def _pins():
    pins = {}
    with open(osp.join(ROOT, 'requirements/constraints.txt')) as f:
        for line in f:
            m = re.match(r'^([\w-]+)==([\w.]+)', line.strip())
            if m:
                pins[m.group(1)] = m.group(2)
    return pins


def _dockerfile():
    with open(osp.join(ROOT, 'docker/Dockerfile')) as f:
        return f.read()


def test_dockerfile_uses_the_install_script_with_cuda_ops():
    text = _dockerfile()
    runs = [
        line for line in text.splitlines() if line.startswith('RUN ')
        and 'tools/install.sh' in line
    ]
    assert runs, 'the Dockerfile must install through tools/install.sh'
    assert all('--cuda' in line for line in runs)
    assert 'python3.11' in text
    assert re.search(r'^FROM nvidia/cuda:\S*runtime', text, re.M)


def test_dockerfile_pins_match_requirements():
    text = _dockerfile()
    args = dict(re.findall(r'^ARG (\w+)=(\S+)', text, re.M))
    pins = _pins()
    assert args['TORCH_VERSION'] == pins['torch']
    assert args['TORCHVISION_VERSION'] == pins['torchvision']
    assert args['MMCV_VERSION'] == pins['mmcv']
    # mminstall.txt holds ranges (for mim); the pins must fall inside them.
    from packaging.requirements import Requirement
    with open(osp.join(ROOT, 'requirements/mminstall.txt')) as f:
        ranges = {
            r.name: r.specifier
            for r in (Requirement(line.split('#', 1)[0].strip())
                      for line in f if line.split('#', 1)[0].strip())
        }
    for pkg in ('mmengine', 'mmcv', 'mmpretrain', 'mmdet'):
        assert ranges[pkg].contains(pins[pkg]), (pkg, pins[pkg], ranges[pkg])
