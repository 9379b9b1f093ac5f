import sys

from acav.cli import main

sys.exit(main())
