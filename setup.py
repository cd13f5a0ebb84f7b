# Copyright (c) mmfa contributors. All rights reserved.
"""Install mmfa. The pinned stack is installed by ``tools/install.sh``; this file
declares the same requirements (``requirements/*.txt``) for pip."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def readme():
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version():
    with open(osp.join(HERE, 'mmfa', 'version.py'), encoding='utf-8') as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname):
    """Read a requirements file, following ``-r`` includes and skipping comments."""
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


if __name__ == '__main__':
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
        install_requires=parse_requirements('requirements/runtime.txt') +
        parse_requirements('requirements/mminstall.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
            'all': parse_requirements('requirements/tests.txt') +
            parse_requirements('requirements/optional.txt'),
        },
        zip_safe=False)
