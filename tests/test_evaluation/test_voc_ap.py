# Copyright (c) mmfa contributors. All rights reserved.
import pytest
import torch

from mmfa.evaluation import VOCDetectionAP

VOC_META = dict(
    classes=('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
             'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
             'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
             'tvmonitor'),
    dataset_type='VOC2007')
THRESHOLDS = [0.5 + 0.05 * i for i in range(10)]


def _sample(gt_boxes, gt_labels, pred_boxes, pred_labels, scores,
            ignored_boxes=(), ignored_labels=()):
    def boxes(b):
        return torch.tensor(b, dtype=torch.float32).reshape(-1, 4)

    return dict(
        gt_instances=dict(
            bboxes=boxes(gt_boxes), labels=torch.tensor(gt_labels).long()),
        ignored_instances=dict(
            bboxes=boxes(ignored_boxes),
            labels=torch.tensor(ignored_labels).long()),
        pred_instances=dict(
            bboxes=boxes(pred_boxes),
            labels=torch.tensor(pred_labels).long(),
            scores=torch.tensor(scores, dtype=torch.float32)))


def _evaluate(samples, **kwargs):
    metric = VOCDetectionAP(nproc=1, **kwargs)
    metric.dataset_meta = VOC_META
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def legacy_iou(a, b):
    """IoU in the VOC devkit's inclusive pixel convention (w = x2 - x1 + 1)."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(iw, 0) * max(ih, 0)

    def area(r):
        return (r[2] - r[0] + 1) * (r[3] - r[1] + 1)

    return inter / (area(a) + area(b) - inter)


def test_perfect_predictions_score_100():
    samples = [
        _sample([[10, 10, 60, 50], [70, 20, 120, 90]], [3, 14],
                [[10, 10, 60, 50], [70, 20, 120, 90]], [3, 14], [0.9, 0.8]),
        _sample([[5, 5, 40, 45]], [7], [[5, 5, 40, 45]], [7], [0.7]),
    ]
    results = _evaluate(samples)
    assert results == {
        'pascal_voc/AP': pytest.approx(100.0),
        'pascal_voc/AP50': pytest.approx(100.0),
        'pascal_voc/AP75': pytest.approx(100.0)
    }


def test_shifted_box_scores_lower_at_strict_thresholds():
    gt = [20, 20, 119, 119]  # 100 x 100 pixels
    pred = [36, 20, 135, 119]  # shifted right by 16 pixels
    iou = legacy_iou(gt, pred)
    assert iou == pytest.approx(8400 / 11600)  # 0.724: passes 0.50-0.70
    results = _evaluate([_sample([gt], [0], [pred], [0], [0.9])])
    # one object, one detection: AP is 100 where IoU >= t, else 0
    passed = sum(iou >= t for t in THRESHOLDS)
    assert passed == 5
    assert results['pascal_voc/AP50'] == pytest.approx(100.0)
    assert results['pascal_voc/AP75'] == pytest.approx(0.0)
    assert results['pascal_voc/AP'] == pytest.approx(100.0 * passed / 10)
    assert results['pascal_voc/AP'] < 100.0


def test_eleven_point_interpolation_and_area_mode():
    # two objects of one class, only one detected: recall 0.5 at precision 1
    sample = _sample([[10, 10, 50, 50], [60, 60, 100, 100]], [2, 2],
                     [[10, 10, 50, 50]], [2], [0.9])
    # 11-point: recall levels 0, 0.1, ..., 0.5 reach precision 1 -> 6 / 11
    assert _evaluate([sample])['pascal_voc/AP50'] == pytest.approx(
        100.0 * 6 / 11)
    # area under the curve: 0.5
    assert _evaluate([sample], eval_mode='area')['pascal_voc/AP50'] == \
        pytest.approx(50.0)


def test_difficult_objects_are_neither_positives_nor_false_positives():
    # a detection on an ignored (difficult) object and a miss of it do not count
    sample = _sample([[10, 10, 50, 50]], [4], [[10, 10, 50, 50],
                                               [60, 60, 100, 100]], [4, 4],
                     [0.9, 0.95],
                     ignored_boxes=[[60, 60, 100, 100]],
                     ignored_labels=[4])
    assert _evaluate([sample])['pascal_voc/AP'] == pytest.approx(100.0)


def test_false_positive_above_the_true_positive_lowers_precision():
    sample = _sample([[10, 10, 50, 50]], [4],
                     [[10, 10, 50, 50], [60, 60, 100, 100]], [4, 4],
                     [0.5, 0.9])
    # ranked: FP then TP -> precision 0.5 at recall 1 for every recall level
    assert _evaluate([sample])['pascal_voc/AP50'] == pytest.approx(50.0)


def test_thresholds_must_include_50_and_75():
    with pytest.raises(ValueError, match='0.75'):
        VOCDetectionAP(iou_thrs=[0.5, 0.6])


def test_registered_in_mmdet_after_importing_det_transfer():
    import mmfa.evaluation.det_transfer  # noqa: F401
    from mmdet.registry import METRICS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        metric = METRICS.build(dict(type='VOCDetectionAP'))
    assert isinstance(metric, VOCDetectionAP)
    assert len(metric.iou_thrs) == 10


def test_equals_mmdet_voc_metric_over_the_ten_thresholds():
    """mmdet's VOCMetric at IoU 0.50:0.95 gives the same numbers on the same
    detections: its mAP (a fraction) is AP / 100, its AP50 / AP75 are AP50 / 100
    and AP75 / 100 rounded to three decimals."""
    from mmdet.evaluation.metrics import VOCMetric
    gen = torch.Generator().manual_seed(0)

    def boxes(n):
        xy = torch.rand(n, 2, generator=gen) * 200
        return torch.cat([xy, xy + 20 + torch.rand(n, 2, generator=gen) * 80], 1)

    samples = []
    for _ in range(20):
        n = int(torch.randint(1, 5, (1, ), generator=gen))
        gt, labels = boxes(n), torch.randint(0, 20, (n, ), generator=gen)
        pred = torch.cat([gt + torch.randn(n, 4, generator=gen) * 8, boxes(3)])
        pred_labels = torch.cat(
            [labels, torch.randint(0, 20, (3, ), generator=gen)])
        samples.append(
            _sample(gt.tolist(), labels.tolist(), pred.tolist(),
                    pred_labels.tolist(),
                    torch.rand(n + 3, generator=gen).tolist()))
    for mode in ('11points', 'area'):
        ours = _evaluate(samples, eval_mode=mode)
        mmdet = VOCMetric(iou_thrs=THRESHOLDS, eval_mode=mode)
        mmdet.dataset_meta = VOC_META
        mmdet.process({}, samples)
        theirs = mmdet.evaluate(len(samples))
        assert 0 < ours['pascal_voc/AP'] < 100
        assert ours['pascal_voc/AP'] == pytest.approx(
            100 * theirs['pascal_voc/mAP'], abs=1e-9)
        for key in ('AP50', 'AP75'):
            assert round(ours[f'pascal_voc/{key}'] / 100, 3) == \
                theirs[f'pascal_voc/{key}']
