# Copyright (c) mmfa contributors. All rights reserved.
import math
from collections import OrderedDict
from typing import Optional, Sequence

from mmdet.evaluation.functional import eval_map
from mmdet.evaluation.metrics import VOCMetric
from mmengine.logging import MMLogger

from mmfa.registry import METRICS

COCO_STYLE_IOU_THRS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@METRICS.register_module()
class VOCDetectionAP(VOCMetric):
    """PASCAL VOC detection AP, AP50 and AP75 as detectron2 reports them.

    This is what detectron2's ``PascalVOCDetectionEvaluator`` computes, the evaluator
    of the MoCo detection protocol that Zhang et al., "Feature Augmentation for
    Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396 follow for
    Table VI (Faster R-CNN R50-C4, VOC07+12 trainval -> VOC07 test):

    * for each IoU threshold t in 0.50:0.05:0.95, the per-class VOC AP (objects
      marked ``difficult`` neither count as positives nor make a detection a false
      positive; a ground truth matches at most one detection, in score order),
      averaged over the classes: ``mAP@t``;
    * the per-class AP is the VOC2007 **11-point** interpolated AP (precision
      maximised over recall >= r, averaged over r in {0, 0.1, ..., 1}) for VOC2007
      test, as detectron2's ``use_07_metric`` does (``eval_mode='area'`` gives the
      VOC2010+ area under the curve);
    * ``AP`` = mean over t of ``mAP@t``; ``AP50`` = ``mAP@0.5``;
      ``AP75`` = ``mAP@0.75``; all in percent.

    Boxes are compared in the VOC devkit's inclusive pixel convention (width = x2 -
    x1 + 1), which is mmdet's ``use_legacy_coordinate`` and the convention
    detectron2's ``voc_eval`` uses on the same annotations. Matching and counting
    are mmdet's :func:`eval_map`, run once per threshold.

    What the library lacks: mmdet's ``VOCMetric(iou_thrs=[0.5, ..., 0.95])`` (this
    class's parent, whose ``process`` it reuses) gives the same mean as ``mAP``,
    but as a fraction and with each per-threshold AP rounded to 0.1 point
    (``AP50``: 0.353), and prints ten per-class tables; this class reports
    detectron2's ``AP`` / ``AP50`` / ``AP75`` in percent, unrounded (pinned against
    mmdet's in ``tests/test_evaluation/test_voc_ap.py``).

    Args:
        iou_thrs (Sequence[float]): IoU thresholds; must contain 0.5 and 0.75.
            Defaults to 0.50:0.05:0.95.
        eval_mode (str): '11points' (VOC2007) or 'area'. Defaults to '11points'.
        nproc (int): Processes for :func:`eval_map`. Defaults to 4.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Metric prefix. Defaults to 'pascal_voc'.
    """

    def __init__(self,
                 iou_thrs: Sequence[float] = COCO_STYLE_IOU_THRS,
                 eval_mode: str = '11points',
                 nproc: int = 4,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        iou_thrs = [float(t) for t in iou_thrs]
        for required in (0.5, 0.75):
            if not any(math.isclose(t, required) for t in iou_thrs):
                raise ValueError(f'iou_thrs must contain {required} to report '
                                 f'AP{int(required * 100)}, got {iou_thrs}.')
        if nproc < 1:
            raise ValueError(f'nproc must be >= 1, got {nproc}.')
        super().__init__(
            iou_thrs=iou_thrs,
            metric='mAP',
            eval_mode=eval_mode,
            collect_device=collect_device,
            prefix=prefix)
        self.nproc = nproc

    def compute_metrics(self, results: list) -> dict:
        """Compute AP (mean over the IoU thresholds), AP50 and AP75 in percent.

        Args:
            results (list): ``(annotation, detections)`` pairs collected by
                :meth:`VOCMetric.process`.

        Returns:
            dict: ``AP``, ``AP50``, ``AP75``.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        dataset_type = self.dataset_meta.get('dataset_type')
        # 'voc' only selects the class names printed in the summary table.
        dataset = ('voc' if dataset_type in ('VOC2007', 'VOC2012') else
                   self.dataset_meta['classes'])
        aps = OrderedDict()
        for thr in self.iou_thrs:
            # Print mmdet's per-class table once, at IoU 0.5.
            mean_ap, _ = eval_map(
                preds,
                gts,
                iou_thr=thr,
                dataset=dataset,
                logger=logger if math.isclose(thr, 0.5) else 'silent',
                eval_mode=self.eval_mode,
                use_legacy_coordinate=True,
                nproc=self.nproc)
            aps[thr] = 100.0 * mean_ap

        def at(t):
            return next(v for k, v in aps.items() if math.isclose(k, t))

        logger.info('mAP per IoU threshold: ' + ', '.join(
            f'{t:.2f}: {v:.2f}' for t, v in aps.items()))
        return OrderedDict(
            AP=sum(aps.values()) / len(aps), AP50=at(0.5), AP75=at(0.75))
