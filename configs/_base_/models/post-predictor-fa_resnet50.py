# Post-predictor-FA (Fig. 2(c), docs/design.md §6): the Parallel-predictor networks,
# FA on the predictor's output of the anchor view.
_base_ = './parallel-predictor-fa_resnet50.py'
model = dict(type='PostPredictorFA')
