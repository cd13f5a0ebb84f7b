# Copyright (c) mmfa contributors. All rights reserved.
from .algorithms import *  # noqa: F401,F403
from .augmenters import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .memories import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
