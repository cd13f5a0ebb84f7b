# Pre-predictor-FA (Fig. 2(d), docs/design.md §6.3): the Parallel-predictor networks,
# FA on the anchor projection before the predictor.
_base_ = './parallel-predictor-fa_resnet50.py'
model = dict(type='PrePredictorFA')
