"""Estafette's builder: runs a build's stages inside a job and reports back to the API.

Pure Python: never imports Django or ``estafette.*`` (enforced by ruff's banned-api rule and a test),
so the job image installs this one small distribution.
"""

__version__ = "0.1.0"
