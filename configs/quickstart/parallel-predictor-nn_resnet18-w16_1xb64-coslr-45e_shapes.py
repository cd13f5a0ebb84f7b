# NN FA with a bank of 1024 projections of the 64-d quickstart projector: smaller
# than the 1800 training images (the paper's 65536 for ImageNet-100's 126k), so the
# neighbours are other images, not stale copies of the query's own image.
_base_ = './parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py'
model = dict(
    head=dict(
        augmenter=dict(
            type='NearestNeighborFA',
            bank=dict(type='FeatureBank', size=1024, dim=64))))
