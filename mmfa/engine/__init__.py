# Copyright (c) mmfa contributors. All rights reserved.
from .hooks import *  # noqa: F401,F403
from .loops import *  # noqa: F401,F403
from .wrappers import *  # noqa: F401,F403
