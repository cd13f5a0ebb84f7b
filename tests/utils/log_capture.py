# Copyright (c) mmfa contributors. All rights reserved.
"""Capture what mmfa logs through mmengine's current MMLogger."""
import contextlib
import logging
import uuid

from mmengine.logging import MMLogger


class _ListHandler(logging.Handler):

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def capture_current_log():
    """Make a fresh MMLogger the current one and yield the list of its messages."""
    logger = MMLogger.get_instance(
        f'capture-{uuid.uuid4().hex}', log_level='DEBUG')
    handler = _ListHandler()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
