# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa's metadata fits a researcher's environment: ranges, not pins (issue 14)."""
import json
import os
import os.path as osp
import subprocess
import sys
import zipfile

from packaging.requirements import Requirement

from tests.test_packaging.packaging_utils import copy_sources, pip
from tests.utils import ROOT

# A researcher's environment: an older CUDA torch build and the other runtime
# packages at versions the pinned stack does not use.
RESEARCHER_ENV = {
    'torch': '2.5.1+cu121',
    'torchvision': '0.20.1+cu121',
    'numpy': '1.26.4',
    'opencv-python': '4.10.0.84',
    'matplotlib': '3.9.0',
    'scikit-learn': '1.5.0',
    'tqdm': '4.66.0',
    'kornia': '0.7.3',
}


def _requirements(name):
    reqs = []
    with open(osp.join(ROOT, 'requirements', name)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(Requirement(line))
    return reqs


def _pins():
    return {
        r.name: next(iter(r.specifier)).version
        for r in _requirements('constraints.txt')
        if len(r.specifier) == 1 and next(iter(r.specifier)).operator == '=='
    }


def _venv(root):
    """A new venv without pip; returns its python and site-packages."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', root],
                   check=True)
    python = osp.join(root, 'bin', 'python')
    site = subprocess.run(
        [python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        capture_output=True, text=True, check=True).stdout.strip()
    return python, site


def _fake_env(root, dists):
    """A venv whose site-packages holds only the metadata of ``dists``."""
    python, site = _venv(root)
    for name, version in dists.items():
        info = osp.join(site, f"{name.replace('-', '_')}-{version}.dist-info")
        os.makedirs(info)
        with open(osp.join(info, 'METADATA'), 'w') as f:
            f.write(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')
    return python


def _dry_run(report, *requirements, python=None):
    proc = pip('install', '--dry-run', '--no-index', '--report', str(report),
               *requirements, python=python)
    installs = None
    if proc.returncode == 0:
        with open(report) as f:
            installs = [(i['metadata']['name'], i['metadata']['version'])
                        for i in json.load(f)['install']]
    return proc, installs


def test_exact_pins_only_in_constraints():
    for name in ('runtime.txt', 'mminstall.txt', 'tests.txt', 'optional.txt'):
        for req in _requirements(name):
            ops = {spec.operator for spec in req.specifier}
            assert not ops & {'==', '==='}, f'{name} pins {req}'
    # ... and the pinned stack of tools/install.sh satisfies every range.
    pins = _pins()
    for name in ('runtime.txt', 'mminstall.txt'):
        for req in _requirements(name):
            if req.name in pins:
                assert req.specifier.contains(pins[req.name]), (req,
                                                                pins[req.name])


def test_wheel_does_not_ask_to_change_an_installed_torch(mmfa_wheel, tmp_path):
    with zipfile.ZipFile(mmfa_wheel) as whl:
        metadata = whl.read('mmfa-0.1.0.dist-info/METADATA').decode()
    requires = [
        Requirement(line.split(':', 1)[1])
        for line in metadata.splitlines() if line.startswith('Requires-Dist:')
    ]
    torch_req = next(r for r in requires if r.name == 'torch')
    assert torch_req.specifier.contains(RESEARCHER_ENV['torch'])

    python = _fake_env(str(tmp_path / 'env'), RESEARCHER_ENV)
    proc, installs = _dry_run(
        tmp_path / 'report.json', mmfa_wheel, python=python)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Only mmfa itself: torch 2.5.1+cu121 and the rest stay as they are.
    assert installs == [('mmfa', '0.1.0')]

    # The check can fail: a requirement on another torch is refused offline.
    proc, _ = _dry_run(
        tmp_path / 'report2.json', mmfa_wheel, 'torch==2.14.1', python=python)
    assert proc.returncode != 0
    assert 'torch==2.14.1' in proc.stderr


def test_pinned_stack_satisfies_every_extra(mmfa_wheel, tmp_path):
    # This interpreter sees tools/install.sh's stack: mmfa and its mim, tests and
    # optional extras must need nothing more from it.
    proc, installs = _dry_run(tmp_path / 'report.json',
                              f'{mmfa_wheel}[mim,tests,optional]')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert installs == [('mmfa', '0.1.0')]


def test_editable_no_deps_install_into_an_existing_env(tmp_path):
    import torch

    # An existing environment: a venv that sees this stack's packages (as the
    # checkout's .venv does), with its own site-packages for mmfa.
    python, site = _venv(str(tmp_path / 'env'))
    stack_site = osp.dirname(osp.dirname(torch.__file__))
    with open(osp.join(site, 'stack.pth'), 'w') as f:
        f.write(f'import site; site.addsitedir({stack_site!r})\n')
    src = copy_sources(tmp_path / 'src')
    proc = subprocess.run(
        [python, '-m', 'pip', 'install', '--disable-pip-version-check',
         '--no-deps', '--no-build-isolation', '--no-index', '-e', src],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'Successfully installed mmfa-0.1.0' in proc.stdout
    out = subprocess.run(
        [python, '-c', 'import mmfa, torch; print(mmfa.__file__); '
         'print(torch.__file__, torch.__version__)'],
        cwd=str(tmp_path), capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        osp.join(src, 'mmfa', '__init__.py'),
        f'{torch.__file__} {torch.__version__}'
    ]
    # mim's folder links the checkout's configs and tools (edits show at once).
    for name in ('configs', 'tools', 'model-index.yml'):
        link = osp.join(src, 'mmfa', '.mim', name)
        assert osp.islink(link)
        assert osp.realpath(link) == osp.realpath(osp.join(src, name))
