# Reference for tools/analysis_tools/benchmark_train.py: mmpretrain's SimCLR (its
# algorithm, 2N x 2N contrastive loss, both views in one backbone batch) at the
# settings of mmfa's no-FA Parallel-predictor config: the same ResNet-50, mmfa's
# strong projector as SimCLR's neck (Linear-BN-ReLU x 2, Linear-BN, 2048-2048-256),
# tau 0.2, batch 64 per device, the same LARS optimizer wrapper, data pipeline and
# runtime. Only the model differs: no predictor, mmpretrain's loss.
# (Zhang et al., arXiv:2410.12396; SimCLR: Chen et al., ICML 2020.)
_base_ = ('../../../configs/selfsup/fa_id/'
          'parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py')
model = dict(
    _delete_=True,
    type='SimCLR',
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=_base_.model.backbone,
    neck=_base_.model.neck,
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2))
