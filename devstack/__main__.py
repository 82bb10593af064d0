"""Entry point: python -m devstack (the emulator and the Functions host, wired together)."""

import sys

from devstack.stack import main

sys.exit(main())
