# Basic layout with the strong projector (Table I, '+strong proj', docs/design.md §6):
# the Parallel-predictor projector, no predictor.
_base_ = './parallel-predictor-fa_resnet50.py'
model = dict(type='BasicFA', predictor=None)
