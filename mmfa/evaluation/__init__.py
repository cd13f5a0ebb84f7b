# Copyright (c) mmfa contributors. All rights reserved.
