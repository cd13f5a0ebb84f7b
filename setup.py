# Copyright (c) mmfa contributors. All rights reserved.
"""Install mmfa.

Requirements, as OpenMMLab projects declare them:

- ``install_requires``: ``requirements/runtime.txt``, the ranges mmfa's code supports
  (torch is not pinned, so ``pip install -e .`` keeps a researcher's torch build);
- ``extras_require['mim']``: ``requirements/mminstall.txt``, the OpenMMLab packages
  (mmcv needs a build matching torch, which ``mim install`` or ``tools/install.sh``
  provides); ``tests`` and ``optional`` (TensorBoard) are extras too;
- the exact versions that ``tools/install.sh`` installs are in
  ``requirements/constraints.txt`` and nowhere else.

Configs, tools and ``model-index.yml`` ship inside the package under ``mmfa/.mim``,
where OpenMMLab's ``mim`` looks for them (``mim train mmfa CONFIG``): copied into
wheels and sdist builds, linked into the source tree for an editable install.
"""
import os
import os.path as osp
import platform
import re
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
# What mim finds under <package>/.mim: the configs, the tools and the model index.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def readme():
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version():
    with open(osp.join(HERE, 'mmfa', 'version.py'), encoding='utf-8') as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname):
    """Read a requirements file, following ``-r`` includes and skipping comments
    and pip options (``-c constraints.txt``)."""
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            elif not line.startswith('-'):
                reqs.append(line)
    return reqs


def _ignore_caches(src, names):
    return [n for n in names if n == '__pycache__' or n.endswith('.pyc')]


def copy_mim_files(dst_root):
    """Copy ``MIM_FILES`` from the project root into ``dst_root/mmfa/.mim``."""
    mim_dir = osp.join(dst_root, 'mmfa', '.mim')
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        if not osp.exists(src):
            continue  # an sdist built without them; nothing to ship
        dst = osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        os.makedirs(mim_dir, exist_ok=True)
        if osp.isdir(src):
            shutil.copytree(src, dst, ignore=_ignore_caches)
        else:
            shutil.copyfile(src, dst)


def link_mim_files():
    """Editable install: ``mmfa/.mim/<name>`` -> ``<root>/<name>``, so mim runs this
    checkout's configs and tools (copies on Windows, where links need rights)."""
    if platform.system() == 'Windows':
        copy_mim_files(HERE)
        return
    mim_dir = osp.join(HERE, 'mmfa', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        dst = osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        os.symlink(osp.join('..', '..', name), dst)


class BuildPyWithMim(build_py):
    """``build_py`` that also puts configs, tools and the model index into the
    built package (wheels, and installs from an sdist), leaving the source tree
    untouched."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):
            copy_mim_files(self.build_lib)


if __name__ == '__main__':
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        link_mim_files()
    tests_require = parse_requirements('requirements/tests.txt')
    optional_require = parse_requirements('requirements/optional.txt')
    setup(
        name='mmfa',
        version=get_version(),
        description='Feature augmentation for self-supervised contrastive '
        'learning, an OpenMMLab-style toolbox',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='self-supervised learning, contrastive learning, '
        'feature augmentation, computer vision',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        include_package_data=True,
        python_requires='>=3.9',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'mim': parse_requirements('requirements/mminstall.txt'),
            'tests': tests_require,
            'optional': optional_require,
            'all': tests_require + optional_require,
        },
        cmdclass={'build_py': BuildPyWithMim},
        zip_safe=False)
