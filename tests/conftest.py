# Copyright (c) mmfa contributors. All rights reserved.
import os.path as osp
import sys

# Tests import the checkout's mmfa (and tests.* helpers), also without an install.
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
