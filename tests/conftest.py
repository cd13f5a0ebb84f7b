# Copyright (c) mmfa contributors. All rights reserved.
import os
import os.path as osp
import sys

# One math thread per process (set before torch is imported): the tests start
# gloo ranks and data-loader workers beside the main process, and oversubscribed
# threads make the small convolutions of the test models ~10x slower on 2 cores.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')

# Tests import the checkout's mmfa (and tests.* helpers), also without an install.
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
