"""`python -m conformance.client_matrix`: the command line of the clients x faults matrix."""

import sys

from .run import main

sys.exit(main(sys.argv[1:]))
