import sys

from tensorgame.cli import main

sys.exit(main())
