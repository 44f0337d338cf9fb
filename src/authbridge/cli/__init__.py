"""The ``authbridge`` command line: secrets, decoding, the verification doctor, dev tokens.

Exit codes: 0 ok, 1 invalid (a token failed, a check failed, a write was refused),
2 usage or configuration error.
"""

from ..extras import require_extra

require_extra("The authbridge command", "cli", typer="Typer", rich="Rich")
