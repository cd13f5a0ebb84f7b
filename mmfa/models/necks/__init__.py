# Copyright (c) mmfa contributors. All rights reserved.
__all__ = []
