# Copyright (c) mmfa contributors. All rights reserved.
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
