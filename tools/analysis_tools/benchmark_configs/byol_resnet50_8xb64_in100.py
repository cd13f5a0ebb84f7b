# Reference for tools/analysis_tools/benchmark_train.py: mmpretrain's BYOL at the
# settings of mmfa's no-FA FA-BYOL config: the same ResNet-50, projector
# (2048-4096-256) and predictor (256-4096-256), target momentum 0.01 (tau 0.99),
# batch 64 per device, the same LARS optimizer wrapper, data pipeline and runtime.
# Only the model class differs (mmpretrain's BYOL + LatentPredictHead).
# (Zhang et al., arXiv:2410.12396; BYOL: Grill et al., NeurIPS 2020.)
_base_ = ('../../../configs/selfsup/fa_byol/'
          'fa-byol_resnet50_8xb64-coslr-100e_in100.py')
model = dict(
    _delete_=True,
    type='BYOL',
    base_momentum=0.01,
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=_base_.model.backbone,
    neck=_base_.model.neck,
    head=dict(
        type='LatentPredictHead',
        predictor=_base_.model.head.predictor,
        loss=_base_.model.head.loss))
