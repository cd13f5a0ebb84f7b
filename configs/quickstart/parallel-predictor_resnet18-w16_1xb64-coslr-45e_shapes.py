# Quickstart baseline: Parallel-predictor layout without FA.
_base_ = './_base_/shapes_pretrain.py'
