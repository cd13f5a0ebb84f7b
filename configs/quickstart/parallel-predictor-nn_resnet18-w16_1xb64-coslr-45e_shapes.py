# NN FA with a bank of 4096 projections of the 64-d quickstart projector.
_base_ = './parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py'
model = dict(
    head=dict(
        augmenter=dict(
            type='NearestNeighborFA',
            bank=dict(type='FeatureBank', size=4096, dim=64))))
