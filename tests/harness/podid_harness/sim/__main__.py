# SPDX-License-Identifier: Apache-2.0
"""`python3 -m podid_harness.sim`: see cli.py."""
import sys

from .cli import main

sys.exit(main())
