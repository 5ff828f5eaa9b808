import sys

from convprop.cli import main

sys.exit(main())
