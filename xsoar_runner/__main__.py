import sys

from xsoar_runner.cli import main

sys.exit(main())
