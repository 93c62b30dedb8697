"""Calls: a call's state (`call.py`), the registry that routes events and AudioSocket
connections to calls (`registry.py`), building and tearing down the media path
(`media_path.py`, `teardown.py`), one call's lifetime (`session.py`) and the manager that
admits new calls (`manager.py`)."""
