# Copyright (c) mmfa contributors. All rights reserved.
"""Fixtures of the packaging tests: mmfa built into a wheel and installed, the way a
user of another environment gets it (from a copy, so the checkout gets no build/)."""
import glob

import pytest

from tests.test_packaging.packaging_utils import copy_sources, pip


@pytest.fixture(scope='session')
def mmfa_wheel(tmp_path_factory):
    """mmfa's wheel, built with the installed setuptools (no index)."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = copy_sources(tmp / 'src')
    proc = pip('wheel', '--no-deps', '--no-build-isolation', '--no-index',
               '-w', str(tmp / 'dist'), src)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = glob.glob(str(tmp / 'dist' / 'mmfa-*.whl'))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope='session')
def installed_mmfa(mmfa_wheel, tmp_path_factory):
    """A folder where the wheel is installed (``pip install --target``): put it
    first on PYTHONPATH to use that mmfa instead of the checkout's."""
    target = tmp_path_factory.mktemp('site')
    proc = pip('install', '--no-deps', '--no-index', '--target', str(target),
               mmfa_wheel)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return str(target)
