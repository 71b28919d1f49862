"""The `egovops` command line.

Commands load no pydantic plugins: without this, pydantic reads every installed distribution's entry
points when the first settings model is built (about 30 ms of each command's start). Set
PYDANTIC_DISABLE_PLUGINS yourself to choose otherwise.
"""

import os

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
