"""Agent audio out. File mode (default): `media_store.py` writes WAV files atomically into the
shared media folder, `file_player.py` plays them on the call bridge in order and deletes them,
`segmenter.py` cuts a reply into files; the sweeper in `media_store.py` removes anything left behind."""
