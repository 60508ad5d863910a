"""python -m model.audit [FOLDER] [--out DIR]: see model.audit."""
import sys

from model.audit.cli import main

sys.exit(main())
