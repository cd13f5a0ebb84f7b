# Copyright (c) mmfa contributors. All rights reserved.
import pytest

from tests.test_benchmarks.data_utils import (make_imagenet_folder,
                                              make_voc_folder)


@pytest.fixture
def imagenet_root(tmp_path):
    return make_imagenet_folder(str(tmp_path / 'imagenet100'))


@pytest.fixture
def voc_root(tmp_path):
    return make_voc_folder(str(tmp_path / 'VOCdevkit'))
