"""``python -m switchboard.store [serve|assemble|retention|hash-password]``."""

import sys

from switchboard.store.main import main

sys.exit(main())
