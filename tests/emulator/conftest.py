"""Make ``tests/`` importable (``import asterisk_emulator``) and this folder's test kit."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE.parent, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
