import sys

from decensor.cli import main

sys.exit(main())
