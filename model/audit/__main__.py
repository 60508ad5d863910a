"""python -m model.audit [FOLDER] [--out DIR]: see model.audit."""
from model.audit.cli import main
from model.errors import cli

cli("model.audit", main)  # one line per problem, documented exit codes (docs/errors.md)
