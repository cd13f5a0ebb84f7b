# Copyright (c) mmfa contributors. All rights reserved.
"""Offline dataset generators: they write small image sets to disk in mmpretrain's
ImageNet-style layout (classification) and the VOC layout (detection), stand-ins for
ImageNet / VOC that need no download (the quickstart, the tests).

* ``shapes``: rendered shapes, class = shape (classification and VOC-style
  detection), ``tools/dataset_converters/generate_shapes.py``;
* ``digits``: scikit-learn's 8x8 digits, ``tools/dataset_converters/
  digits_to_imagenet.py``;
* ``layout``: the annotation-file and directory helpers they share.
"""
from .digits import DIGITS_CLASSES, digits_split, generate_digits_cls
from .layout import (imwrite_rgb, prepare_output, progress_iter,
                     write_ann_file, write_class_list)
from .shapes import (SHAPE_CLASSES, generate_shapes, generate_shapes_cls,
                     generate_shapes_voc, render_detection_image,
                     render_shape_image)

__all__ = [
    'SHAPE_CLASSES', 'render_shape_image', 'render_detection_image',
    'generate_shapes_cls', 'generate_shapes_voc', 'generate_shapes',
    'DIGITS_CLASSES', 'digits_split', 'generate_digits_cls', 'imwrite_rgb',
    'prepare_output', 'progress_iter', 'write_ann_file', 'write_class_list'
]
