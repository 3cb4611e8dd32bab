import sys

from minilab.cli import main

sys.exit(main())
