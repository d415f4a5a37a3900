"""CV Lab: the backend of an interactive lab for CNN architectures and modeling.

Importing cvlab is cheap on purpose: torch and the other heavy libraries are
imported by the modules that need them, so a page or a command that does not
use them never pays for them.
"""

__version__ = "0.1.0"
