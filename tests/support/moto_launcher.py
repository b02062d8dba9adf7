"""The AWS emulator for devo-aws's tests and demo: moto's server, run with moto_server's own
arguments (-H HOST -p PORT). Extensions that moto lacks are added here as the services that
need them land."""

import sys

from moto.server import main

if __name__ == "__main__":
    sys.exit(main())
